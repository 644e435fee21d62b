package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.HexFormat;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiKeyStoreTest {

  @TempDir
  Path tmp;

  @Test
  void storesOnlyTheHashAndRevocationIsImmediate() throws Exception {
    try (JdbcCreditLedger ledger = JdbcCreditLedger.builder().jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
        .spoolDirectory(tmp.resolve("spool")).build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore keys = new ApiKeyStore(ledger.dataSource(), Clock.systemUTC());
      Set<String> secrets = new HashSet<>();
      for (int i = 0; i < 50; i++) {
        secrets.add(keys.create(ApiKey.Kind.USER, "acct-" + i, "").secret());
      }
      assertThat(secrets).hasSize(50).allMatch(s -> s.startsWith("cgk_") && s.length() == 47);
      ApiKeyStore.CreatedKey created = keys.create(ApiKey.Kind.USER, "acme", "ci");
      String expectedHash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(created.secret().getBytes(StandardCharsets.UTF_8)));
      try (Connection c = ledger.dataSource().getConnection(); Statement s = c.createStatement();
           ResultSet rs = s.executeQuery("SELECT * FROM gateway_api_keys WHERE id = '" + created.key().id() + "'")) {
        assertThat(rs.next()).isTrue();
        for (int col = 1; col <= rs.getMetaData().getColumnCount(); col++) {
          assertThat(String.valueOf(rs.getObject(col))).doesNotContain(created.secret().substring(10));
        }
        assertThat(rs.getString("key_hash")).isEqualTo(expectedHash);
      }
      assertThat(keys.authenticate(created.secret())).map(ApiKey::accountId).hasValue("acme");
      assertThat(keys.authenticate(created.secret() + "x")).isEmpty();
      assertThat(keys.authenticate("sk-other")).isEmpty();
      keys.revoke(created.key().id());
      assertThat(keys.authenticate(created.secret())).isEmpty();
      assertThat(keys.list("acme")).singleElement().matches(ApiKey::revoked);
    }
  }

  @Test
  void badArgumentsAreRejected() throws Exception {
    try (JdbcCreditLedger ledger = JdbcCreditLedger.builder().jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
        .spoolDirectory(tmp.resolve("spool")).build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore keys = new ApiKeyStore(ledger.dataSource(), Clock.systemUTC());
      assertThatThrownBy(() -> keys.create(ApiKey.Kind.USER, "bad id", "")).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'bad id'");
      assertThatThrownBy(() -> keys.create(ApiKey.Kind.SERVICE, "acme", "")).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'acme'");
      assertThat(keys.list(null)).isEmpty();
    }
  }

  @Test
  void aCachedKeyRevokedInThisProcessFailsAtOnce() throws Exception {
    try (JdbcCreditLedger ledger = JdbcCreditLedger.builder().jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
        .spoolDirectory(tmp.resolve("spool")).build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      AtomicLong nanos = new AtomicLong();
      ApiKeyStore keys = new ApiKeyStore(ledger.dataSource(), Clock.systemUTC(), Duration.ofHours(1), nanos::get);
      ApiKeyStore.CreatedKey created = keys.create(ApiKey.Kind.USER, "acme", "");
      ApiKeyStore.CreatedKey other = keys.create(ApiKey.Kind.USER, "acme", "");
      assertThat(keys.authenticate(created.secret())).isPresent();
      assertThat(keys.authenticate(other.secret())).isPresent();
      keys.revoke(created.key().id());
      assertThat(keys.authenticate(created.secret())).isEmpty();
      assertThat(keys.authenticate(other.secret())).isPresent();
    }
  }

  @Test
  void aRevocationByAnotherProcessTakesEffectWithinTheCacheTtl() throws Exception {
    try (JdbcCreditLedger ledger = JdbcCreditLedger.builder().jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
        .spoolDirectory(tmp.resolve("spool")).build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      AtomicLong nanos = new AtomicLong();
      ApiKeyStore keys = new ApiKeyStore(ledger.dataSource(), Clock.systemUTC(), Duration.ofSeconds(2), nanos::get);
      ApiKeyStore.CreatedKey created = keys.create(ApiKey.Kind.USER, "acme", "");
      assertThat(keys.authenticate(created.secret())).isPresent();
      // Another process (a second gateway, the CLI) revokes through its own store.
      new ApiKeyStore(ledger.dataSource(), Clock.systemUTC()).revoke(created.key().id());
      nanos.addAndGet(Duration.ofMillis(1999).toNanos());
      assertThat(keys.authenticate(created.secret())).as("remembered within the TTL").isPresent();
      nanos.addAndGet(Duration.ofMillis(2).toNanos());
      assertThat(keys.authenticate(created.secret())).as("read again after the TTL").isEmpty();
    }
  }

  @Test
  void withoutACacheEveryAuthenticationReadsTheDatabase() throws Exception {
    try (JdbcCreditLedger ledger = JdbcCreditLedger.builder().jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
        .spoolDirectory(tmp.resolve("spool")).build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore keys = new ApiKeyStore(ledger.dataSource(), Clock.systemUTC(), Duration.ZERO, () -> 0L);
      ApiKeyStore.CreatedKey created = keys.create(ApiKey.Kind.USER, "acme", "");
      assertThat(keys.authenticate(created.secret())).isPresent();
      new ApiKeyStore(ledger.dataSource(), Clock.systemUTC()).revoke(created.key().id());
      assertThat(keys.authenticate(created.secret())).isEmpty();
      assertThatThrownBy(() -> new ApiKeyStore(ledger.dataSource(), Clock.systemUTC(), Duration.ofMillis(-1),
          () -> 0L)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT-0.001S");
    }
  }
}

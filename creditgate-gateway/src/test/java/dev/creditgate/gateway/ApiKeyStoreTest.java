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
}

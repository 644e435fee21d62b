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
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiKeyStoreTest {

  @TempDir Path tmp;

  @Test
  void storesOnlyTheHashAndRevocationIsImmediate() throws Exception {
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore keys = new ApiKeyStore(ledger.dataSource(), Clock.systemUTC());
      Set<String> secrets = new HashSet<>();
      for (int i = 0; i < 50; i++) {
        secrets.add(keys.create(ApiKey.Kind.USER, "acct-" + i, "").secret());
      }
      assertThat(secrets).hasSize(50).allMatch(s -> s.startsWith("cgk_") && s.length() == 47);
      ApiKeyStore.CreatedKey created = keys.create(ApiKey.Kind.USER, "acme", "ci");
      String expectedHash =
          HexFormat.of()
              .formatHex(
                  MessageDigest.getInstance("SHA-256")
                      .digest(created.secret().getBytes(StandardCharsets.UTF_8)));
      try (Connection c = ledger.dataSource().getConnection();
          Statement s = c.createStatement();
          ResultSet rs =
              s.executeQuery(
                  "SELECT * FROM gateway_api_keys WHERE id = '" + created.key().id() + "'")) {
        assertThat(rs.next()).isTrue();
        for (int col = 1; col <= rs.getMetaData().getColumnCount(); col++) {
          assertThat(String.valueOf(rs.getObject(col)))
              .doesNotContain(created.secret().substring(10));
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
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore keys = new ApiKeyStore(ledger.dataSource(), Clock.systemUTC());
      assertThatThrownBy(() -> keys.create(ApiKey.Kind.USER, "bad id", ""))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'bad id'");
      assertThatThrownBy(() -> keys.create(ApiKey.Kind.SERVICE, "acme", ""))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'acme'");
      assertThat(keys.list(null)).isEmpty();
    }
  }

  @Test
  void aCachedKeyRevokedInThisProcessFailsAtOnce() throws Exception {
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      AtomicLong nanos = new AtomicLong();
      ApiKeyStore keys =
          new ApiKeyStore(ledger.dataSource(), Clock.systemUTC(), Duration.ofHours(1), nanos::get);
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
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      AtomicLong nanos = new AtomicLong();
      ApiKeyStore keys =
          new ApiKeyStore(
              ledger.dataSource(), Clock.systemUTC(), Duration.ofSeconds(2), nanos::get);
      ApiKeyStore.CreatedKey created = keys.create(ApiKey.Kind.USER, "acme", "");
      ApiKeyStore.CreatedKey other = keys.create(ApiKey.Kind.USER, "acme", "");
      assertThat(keys.authenticate(created.secret())).isPresent();
      assertThat(keys.authenticate(other.secret())).isPresent();
      assertThat(keys.authenticate(created.secret()))
          .as("remembered, after the first sweep")
          .isPresent();
      // Another process (a second gateway, the CLI) revokes through its own store.
      new ApiKeyStore(ledger.dataSource(), Clock.systemUTC()).revoke(created.key().id());
      nanos.addAndGet(Duration.ofMillis(999).toNanos());
      assertThat(keys.authenticate(created.secret()))
          .as("remembered until the next sweep")
          .isPresent();
      nanos.addAndGet(Duration.ofMillis(2).toNanos());
      assertThat(keys.authenticate(other.secret())).as("another key's call sweeps").isPresent();
      assertThat(keys.authenticate(created.secret()))
          .as("the sweep found the revocation")
          .isEmpty();
      assertThat(keys.authenticate(other.secret())).isPresent();
    }
  }

  @Test
  void rememberedKeysCostOneSweepPerHalfTtlNotOneReadPerKey() throws Exception {
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      java.util.concurrent.atomic.AtomicInteger reads =
          new java.util.concurrent.atomic.AtomicInteger();
      javax.sql.DataSource counting =
          failingWhen(
              ledger.dataSource(),
              new java.util.concurrent.atomic.AtomicBoolean(),
              () -> {},
              reads::incrementAndGet);
      AtomicLong nanos = new AtomicLong();
      ApiKeyStore keys =
          new ApiKeyStore(counting, Clock.systemUTC(), Duration.ofSeconds(2), nanos::get);
      java.util.List<String> secrets = new java.util.ArrayList<>();
      for (int i = 0; i < 50; i++) {
        secrets.add(
            new ApiKeyStore(ledger.dataSource(), Clock.systemUTC())
                .create(ApiKey.Kind.USER, "a" + i, "")
                .secret());
      }
      // Each key used once every 100 ms for 10 s.
      for (int step = 0; step < 100; step++) {
        for (String secret : secrets) {
          assertThat(keys.authenticate(secret)).isPresent();
        }
        nanos.addAndGet(Duration.ofMillis(100).toNanos());
      }
      // 50 first reads and a sweep a second (a read per key per TTL would be 250).
      assertThat(reads.get()).isBetween(50 + 10, 50 + 11);
    }
  }

  @Test
  void aRepeatedUnknownKeyCostsOneReadUntilItIsForgotten() throws Exception {
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      java.util.concurrent.atomic.AtomicInteger reads =
          new java.util.concurrent.atomic.AtomicInteger();
      javax.sql.DataSource counting =
          failingWhen(
              ledger.dataSource(),
              new java.util.concurrent.atomic.AtomicBoolean(),
              () -> {},
              reads::incrementAndGet);
      AtomicLong nanos = new AtomicLong();
      ApiKeyStore keys =
          new ApiKeyStore(counting, Clock.systemUTC(), Duration.ofSeconds(2), nanos::get);
      ApiKeyStore.CreatedKey revoked = keys.create(ApiKey.Kind.USER, "acme", "");
      keys.revoke(revoked.key().id());
      java.util.List<String> bogus = new java.util.ArrayList<>();
      for (int i = 0; i < 5; i++) {
        bogus.add("cgk_bogus" + i + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
      }
      bogus.add(revoked.secret());
      reads.set(0);
      for (int round = 0; round < 20; round++) {
        for (String secret : bogus) {
          assertThat(keys.authenticate(secret)).isEmpty();
        }
        nanos.addAndGet(Duration.ofMillis(100).toNanos());
      }
      // 120 attempts, one read per key: a flood of one bogus key costs the database nothing more.
      assertThat(reads.get()).isEqualTo(bogus.size());

      // Forgotten after a few seconds: read once more.
      nanos.addAndGet(ApiKeyStore.UNKNOWN_TTL.toNanos());
      for (String secret : bogus) {
        assertThat(keys.authenticate(secret)).isEmpty();
        assertThat(keys.authenticate(secret)).isEmpty();
      }
      assertThat(reads.get()).isEqualTo(2 * bogus.size());

      assertThat(keys.keyReads()).isEqualTo(reads.get());

      // A key created now works at once.
      ApiKeyStore.CreatedKey fresh = keys.create(ApiKey.Kind.USER, "acme", "");
      assertThat(keys.authenticate(fresh.secret())).map(ApiKey::accountId).hasValue("acme");
      assertThat(keys.remembered(fresh.secret())).map(ApiKey::accountId).hasValue("acme");
      assertThat(keys.remembered(bogus.get(0))).isEmpty();
    }
  }

  @Test
  void withoutACacheEveryAuthenticationReadsTheDatabase() throws Exception {
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore keys =
          new ApiKeyStore(ledger.dataSource(), Clock.systemUTC(), Duration.ZERO, () -> 0L);
      ApiKeyStore.CreatedKey created = keys.create(ApiKey.Kind.USER, "acme", "");
      assertThat(keys.authenticate(created.secret())).isPresent();
      new ApiKeyStore(ledger.dataSource(), Clock.systemUTC()).revoke(created.key().id());
      assertThat(keys.authenticate(created.secret())).isEmpty();
      assertThatThrownBy(
              () ->
                  new ApiKeyStore(
                      ledger.dataSource(), Clock.systemUTC(), Duration.ofMillis(-1), () -> 0L))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("PT-0.001S");
    }
  }

  /** What a connection attempt does before it fails while the database is "down". */
  interface BeforeFailure {
    void run() throws Exception;
  }

  /**
   * {@code real}, except that while {@code down} is set every connection attempt runs {@code
   * before} and then fails as an unreachable database does.
   */
  private static javax.sql.DataSource failingWhen(
      javax.sql.DataSource real,
      java.util.concurrent.atomic.AtomicBoolean down,
      BeforeFailure before) {
    return failingWhen(real, down, before, () -> 0);
  }

  /**
   * {@link #failingWhen(javax.sql.DataSource, java.util.concurrent.atomic.AtomicBoolean,
   * BeforeFailure)}, also telling each connection attempt.
   */
  private static javax.sql.DataSource failingWhen(
      javax.sql.DataSource real,
      java.util.concurrent.atomic.AtomicBoolean down,
      BeforeFailure before,
      java.util.function.IntSupplier onConnection) {
    return (javax.sql.DataSource)
        java.lang.reflect.Proxy.newProxyInstance(
            ApiKeyStoreTest.class.getClassLoader(),
            new Class<?>[] {javax.sql.DataSource.class},
            (proxy, method, args) -> {
              if (method.getName().equals("getConnection")) {
                onConnection.getAsInt();
              }
              if (down.get() && method.getName().equals("getConnection")) {
                before.run();
                throw new java.sql.SQLException("injected: database unreachable", "08001");
              }
              try {
                return method.invoke(real, args);
              } catch (java.lang.reflect.InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  @Test
  void duringAnOutageOneCallRetriesTheDatabaseWhileTheOthersAnswerFromMemory() throws Exception {
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      java.util.concurrent.atomic.AtomicBoolean down =
          new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.atomic.AtomicInteger attempts =
          new java.util.concurrent.atomic.AtomicInteger();
      var entered =
          new java.util.concurrent.atomic.AtomicReference<>(
              new java.util.concurrent.CountDownLatch(1));
      var release =
          new java.util.concurrent.atomic.AtomicReference<>(
              new java.util.concurrent.CountDownLatch(1));
      // Down: a connection attempt hangs until released, then fails, as against a server that
      // does not answer (each waits the pool's connection timeout).
      javax.sql.DataSource hanging =
          failingWhen(
              ledger.dataSource(),
              down,
              () -> {
                attempts.incrementAndGet();
                entered.get().countDown();
                release.get().await(10, java.util.concurrent.TimeUnit.SECONDS);
              });
      AtomicLong nanos = new AtomicLong();
      ApiKeyStore keys =
          new ApiKeyStore(hanging, Clock.systemUTC(), Duration.ofSeconds(2), nanos::get);
      String seen = keys.create(ApiKey.Kind.USER, "acme", "").secret();
      assertThat(keys.authenticate(seen)).isPresent();
      nanos.addAndGet(Duration.ofSeconds(3).toNanos());
      down.set(true);
      release.get().countDown(); // the first failure is immediate
      assertThat(keys.authenticate(seen)).isPresent();
      assertThat(attempts.get()).isEqualTo(1);

      java.util.concurrent.CountDownLatch hold = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.CountDownLatch probing = new java.util.concurrent.CountDownLatch(1);
      entered.set(probing);
      release.set(hold);
      nanos.addAndGet(ApiKeyStore.OUTAGE_RETRY.toNanos());
      try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
        var retry = pool.submit(() -> keys.authenticate(seen));
        assertThat(probing.await(5, java.util.concurrent.TimeUnit.SECONDS))
            .as("a call retries the database")
            .isTrue();
        // The retry hangs on the database; other calls meanwhile answer at once from memory.
        for (int i = 0; i < 20; i++) {
          var other = pool.submit(() -> keys.authenticate(seen));
          assertThat(other.get(2, java.util.concurrent.TimeUnit.SECONDS))
              .map(ApiKey::accountId)
              .hasValue("acme");
        }
        assertThat(attempts.get()).as("only the one retry reached the database").isEqualTo(2);
        hold.countDown();
        assertThat(retry.get(5, java.util.concurrent.TimeUnit.SECONDS)).isPresent();
      }
    }
  }

  @Test
  void keysLastSeenValidKeepWorkingWhileTheDatabaseIsDown() throws Exception {
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("k.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      java.util.concurrent.atomic.AtomicBoolean down =
          new java.util.concurrent.atomic.AtomicBoolean();
      javax.sql.DataSource flaky = failingWhen(ledger.dataSource(), down, () -> {});
      AtomicLong nanos = new AtomicLong();
      ApiKeyStore keys =
          new ApiKeyStore(flaky, Clock.systemUTC(), Duration.ofSeconds(2), nanos::get);
      String seen = keys.create(ApiKey.Kind.USER, "acme", "").secret();
      String neverSeen = keys.create(ApiKey.Kind.USER, "acme", "").secret();
      ApiKeyStore.CreatedKey revoked = keys.create(ApiKey.Kind.USER, "acme", "");
      assertThat(keys.authenticate(seen)).isPresent();
      assertThat(keys.authenticate(revoked.secret())).isPresent();
      keys.revoke(revoked.key().id());
      nanos.addAndGet(Duration.ofSeconds(3).toNanos());

      down.set(true);
      assertThat(keys.authenticate(seen)).map(ApiKey::accountId).hasValue("acme");
      // A key revoked here is forgotten, so during the outage it is refused like any unknown key.
      assertThatThrownBy(() -> keys.authenticate(revoked.secret()))
          .isInstanceOf(dev.creditgate.ledger.LedgerUnavailableException.class);
      assertThatThrownBy(() -> keys.authenticate(neverSeen))
          .isInstanceOf(dev.creditgate.ledger.LedgerUnavailableException.class);
      nanos.addAndGet(ApiKeyStore.OUTAGE_TTL.toNanos());
      assertThatThrownBy(() -> keys.authenticate(seen))
          .isInstanceOf(dev.creditgate.ledger.LedgerUnavailableException.class);

      down.set(false);
      assertThat(keys.authenticate(seen)).isPresent();
      assertThat(keys.authenticate(neverSeen)).isPresent();
    }
  }
}

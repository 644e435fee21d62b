package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ApiKeyStore#open}: keys in the ledger's database through a pool of their own, on SQLite
 * and PostgreSQL.
 */
class ApiKeyStorePoolTest {

  private static final int LEDGER_POOL = 2;

  @TempDir Path tmp;

  @Test
  void sqlite() throws Exception {
    String url = "jdbc:sqlite:" + tmp.resolve("keys.db");
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(url)
            .spoolDirectory(tmp.resolve("spool"))
            .poolSize(LEDGER_POOL)
            .build()) {
      keysWorkBesideTheLedger(url, ledger);
    }
  }

  @Test
  void postgres() throws Exception {
    String url = TestBackends.freshPostgresSchema("keys");
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(url)
            .spoolDirectory(tmp.resolve("spool"))
            .poolSize(LEDGER_POOL)
            .build()) {
      keysWorkBesideTheLedger(url, ledger);
    }
  }

  @Test
  void otherDatabasesAreRefused() {
    assertThatThrownBy(() -> ApiKeyStore.open("jdbc:mysql://127.0.0.1/x", Clock.systemUTC()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PostgreSQL and SQLite");
  }

  private static void keysWorkBesideTheLedger(String url, JdbcCreditLedger ledger)
      throws Exception {
    ApiKeyStore.migrate(url);
    String secret;
    String id;
    try (ApiKeyStore keys = ApiKeyStore.open(url, Clock.systemUTC())) {
      ApiKeyStore.CreatedKey created = keys.create(ApiKey.Kind.USER, "acme", "pool");
      secret = created.secret();
      id = created.key().id();
      // Every connection of the ledger's pool busy: the keys do not wait for one.
      List<Connection> held = new ArrayList<>();
      try {
        for (int i = 0; i < LEDGER_POOL; i++) {
          held.add(ledger.dataSource().getConnection());
        }
        assertThat(keys.authenticate(secret)).map(ApiKey::accountId).hasValue("acme");
        assertThat(keys.list("acme")).singleElement().extracting(ApiKey::label).isEqualTo("pool");
      } finally {
        for (Connection c : held) {
          c.close();
        }
      }
    }
    // Migrating again, and a second store over the same table, see the same keys.
    try (ApiKeyStore again = ApiKeyStore.open(url, Clock.systemUTC())) {
      assertThat(again.authenticate(secret)).isPresent();
      assertThat(again.revoke(id)).hasValueSatisfying(k -> assertThat(k.revoked()).isTrue());
      assertThat(again.authenticate(secret)).isEmpty();
    }
  }
}

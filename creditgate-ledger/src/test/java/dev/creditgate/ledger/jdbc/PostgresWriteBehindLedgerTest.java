package dev.creditgate.ledger.jdbc;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Write-behind on PostgreSQL: the ledger's connections go through a TCP proxy the test cuts ({@link PostgresOutage}). */
class PostgresWriteBehindLedgerTest extends AbstractWriteBehindLedgerTest {

  private static PostgresOutage outage;

  @BeforeAll
  static void startProxy() throws Exception {
    outage = new PostgresOutage("writebehind");
  }

  @AfterAll
  static void stopProxy() {
    outage.close();
  }

  @Override
  String jdbcUrl() {
    return outage.url();
  }

  @Override
  void takeDatabaseAway() {
    outage.cut();
  }

  @Override
  void bringDatabaseBack() throws Exception {
    outage.restore();
  }
}

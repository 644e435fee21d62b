package dev.creditgate.ledger.jdbc;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The outage on PostgreSQL: the ledger's connections go through a TCP proxy the test cuts ({@link
 * PostgresOutage}).
 */
class PostgresSpoolOutageTest extends AbstractSpoolOutageTest {

  private static PostgresOutage outage;

  @BeforeAll
  static void startProxy() throws Exception {
    outage = new PostgresOutage("outage");
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

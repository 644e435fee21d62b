package dev.creditgate.ledger.jdbc;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Write-behind on PostgreSQL: the ledger's connections go through a TCP proxy the test cuts ({@link
 * PostgresOutage}).
 */
class PostgresWriteBehindLedgerTest extends AbstractWriteBehindLedgerTest {

  private static PostgresOutage outage;
  private Connection holder;

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

  /** Another transaction holds the account's row lock: the committer's batch waits for it. */
  @Override
  void holdWrites(String account) throws Exception {
    holder = DriverManager.getConnection(outage.url());
    holder.setAutoCommit(false);
    try (PreparedStatement s =
        holder.prepareStatement("SELECT id FROM accounts WHERE id = ? FOR UPDATE")) {
      s.setString(1, account);
      s.executeQuery().close();
    }
  }

  @Override
  void releaseWrites() throws Exception {
    if (holder != null) {
      holder.rollback();
      holder.close();
      holder = null;
    }
  }
}

package dev.creditgate.ledger.jdbc;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;

/** Write-behind on SQLite; the outage: another connection holds the database file's write lock. */
class SqliteWriteBehindLedgerTest extends AbstractWriteBehindLedgerTest {

  private Connection locker;

  @Override
  String jdbcUrl() {
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }

  @Override
  synchronized void takeDatabaseAway() throws Exception {
    locker = DriverManager.getConnection(jdbcUrl());
    try (Statement s = locker.createStatement()) {
      s.execute("BEGIN EXCLUSIVE");
      s.execute("UPDATE price_rules SET priority = priority WHERE id = -1");
    }
  }

  @Override
  synchronized void bringDatabaseBack() throws Exception {
    if (locker != null) {
      try (Statement s = locker.createStatement()) {
        s.execute("ROLLBACK");
      }
      locker.close();
      locker = null;
    }
  }
}

package dev.creditgate.ledger.jdbc;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;

/** A SQLite outage: another connection holds the database file's write lock until released. */
final class SqliteWriteLock {

  private Connection locker;

  synchronized void take(String jdbcUrl) throws Exception {
    locker = DriverManager.getConnection(jdbcUrl);
    try (Statement s = locker.createStatement()) {
      s.execute("BEGIN EXCLUSIVE");
      s.execute("UPDATE price_rules SET priority = priority WHERE id = -1");
    }
  }

  synchronized void release() throws Exception {
    if (locker != null) {
      try (Statement s = locker.createStatement()) {
        s.execute("ROLLBACK");
      }
      locker.close();
      locker = null;
    }
  }
}

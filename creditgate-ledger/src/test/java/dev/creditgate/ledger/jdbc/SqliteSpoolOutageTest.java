package dev.creditgate.ledger.jdbc;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/**
 * The outage on SQLite: another connection holds the database file's write lock ({@link
 * SqliteWriteLock}).
 */
class SqliteSpoolOutageTest extends AbstractSpoolOutageTest {

  @TempDir Path databaseDirectory;

  private final SqliteWriteLock lock = new SqliteWriteLock();

  @Override
  String jdbcUrl() {
    return "jdbc:sqlite:" + databaseDirectory.resolve("ledger.db");
  }

  @Override
  void takeDatabaseAway() throws Exception {
    lock.take(jdbcUrl());
  }

  @Override
  void bringDatabaseBack() throws Exception {
    lock.release();
  }
}

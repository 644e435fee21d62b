package dev.creditgate.ledger.jdbc;

/**
 * Write-behind on SQLite: another connection holds the database file's write lock ({@link
 * SqliteWriteLock}).
 */
class SqliteWriteBehindLedgerTest extends AbstractWriteBehindLedgerTest {

  private final SqliteWriteLock lock = new SqliteWriteLock();

  @Override
  String jdbcUrl() {
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
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

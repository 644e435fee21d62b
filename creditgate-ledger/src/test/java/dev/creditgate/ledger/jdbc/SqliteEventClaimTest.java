package dev.creditgate.ledger.jdbc;

/** Idempotency-Key claims shared by two ledgers on one SQLite file. */
class SqliteEventClaimTest extends AbstractEventClaimTest {

  @Override
  String jdbcUrl() {
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }
}

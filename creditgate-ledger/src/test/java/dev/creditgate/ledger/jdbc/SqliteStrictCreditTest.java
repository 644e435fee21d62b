package dev.creditgate.ledger.jdbc;

/** Strict credit over a write-behind SQLite ledger. */
class SqliteStrictCreditTest extends AbstractStrictCreditTest {

  @Override
  String jdbcUrl() {
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }
}

package dev.creditgate.ledger.jdbc;

/** The credit meter over a write-behind SQLite ledger. */
class SqliteCreditMeterTest extends AbstractCreditMeterTest {

  @Override
  String jdbcUrl() {
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }
}

package dev.creditgate.ledger.jdbc;

/** Leases of credit shared by two ledgers on one SQLite file. */
class SqliteCreditLeaseTest extends AbstractCreditLeaseTest {

  @Override
  String jdbcUrl() {
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }
}

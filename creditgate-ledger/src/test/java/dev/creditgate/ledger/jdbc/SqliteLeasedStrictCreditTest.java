package dev.creditgate.ledger.jdbc;

/** Strict credit whose holds are placed against leases of the credit, as in a fleet. */
class SqliteLeasedStrictCreditTest extends SqliteStrictCreditTest {

  @Override
  boolean leased() {
    return true;
  }
}

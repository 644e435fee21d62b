package dev.creditgate.ledger.jdbc;

/** Strict credit whose holds are placed against leases of the credit, as in a fleet. */
class PostgresLeasedStrictCreditTest extends PostgresStrictCreditTest {

  @Override
  boolean leased() {
    return true;
  }
}

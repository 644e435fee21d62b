package dev.creditgate.ledger.jdbc;

/** The ledger contract on PostgreSQL, in a schema of its own. */
class PostgresCreditLedgerTest extends AbstractCreditLedgerContractTest {

  private PostgresSchema schema;

  @Override
  String createDatabase() {
    schema = PostgresSchema.create("contract");
    return schema.url();
  }

  @Override
  void dropDatabase() {
    if (schema != null) {
      schema.close();
    }
  }
}

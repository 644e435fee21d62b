package dev.creditgate.ledger.jdbc;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The credit meter over a write-behind PostgreSQL ledger, in a schema of its own. */
class PostgresCreditMeterTest extends AbstractCreditMeterTest {

  private static PostgresSchema schema;

  @BeforeAll
  static void createSchema() {
    schema = PostgresSchema.create("meter");
  }

  @AfterAll
  static void dropSchema() {
    schema.close();
  }

  @Override
  String jdbcUrl() {
    return schema.url();
  }
}

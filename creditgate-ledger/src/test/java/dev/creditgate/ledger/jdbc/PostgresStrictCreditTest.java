package dev.creditgate.ledger.jdbc;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Strict credit over a write-behind PostgreSQL ledger, in a schema of its own. */
class PostgresStrictCreditTest extends AbstractStrictCreditTest {

  private static PostgresSchema schema;

  @BeforeAll
  static void createSchema() {
    schema = PostgresSchema.create("strict");
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

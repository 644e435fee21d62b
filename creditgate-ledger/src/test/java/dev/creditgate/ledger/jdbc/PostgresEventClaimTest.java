package dev.creditgate.ledger.jdbc;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Idempotency-Key claims shared by two PostgreSQL ledgers, in a schema of their own. */
class PostgresEventClaimTest extends AbstractEventClaimTest {

  private static PostgresSchema schema;

  @BeforeAll
  static void createSchema() {
    schema = PostgresSchema.create("claims");
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

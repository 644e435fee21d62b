package dev.creditgate.ledger.jdbc;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Leases of credit shared by two PostgreSQL ledgers, in a schema of their own. */
class PostgresCreditLeaseTest extends AbstractCreditLeaseTest {

  private static PostgresSchema schema;

  @BeforeAll
  static void createSchema() {
    schema = PostgresSchema.create("leases");
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

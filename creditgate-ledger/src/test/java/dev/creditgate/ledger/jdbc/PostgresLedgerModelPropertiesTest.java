package dev.creditgate.ledger.jdbc;

import net.jqwik.api.lifecycle.AfterContainer;

class PostgresLedgerModelPropertiesTest extends AbstractLedgerModelPropertiesTest {

  private static PostgresSchema schema;

  @Override
  String jdbcUrl() {
    synchronized (PostgresLedgerModelPropertiesTest.class) {
      if (schema == null) {
        schema = PostgresSchema.create("model");
      }
    }
    return schema.url();
  }

  @AfterContainer
  static void dropSchema() {
    if (schema != null) {
      schema.close();
    }
  }
}

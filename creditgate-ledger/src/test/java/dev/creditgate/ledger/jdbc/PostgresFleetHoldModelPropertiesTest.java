package dev.creditgate.ledger.jdbc;

import java.nio.file.Path;
import net.jqwik.api.lifecycle.AfterContainer;

/** The fleet hold model: two instances leasing from one PostgreSQL schema. */
class PostgresFleetHoldModelPropertiesTest extends AbstractFleetHoldModelPropertiesTest {

  private static PostgresSchema schema;

  @Override
  String jdbcUrl(Path directory) {
    synchronized (PostgresFleetHoldModelPropertiesTest.class) {
      if (schema == null) {
        schema = PostgresSchema.create("fleetmodel");
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

package dev.creditgate.ledger.jdbc;

import java.nio.file.Path;
import net.jqwik.api.lifecycle.AfterContainer;

/** The hold model on a write-behind PostgreSQL ledger, in a schema of its own. */
class PostgresHoldModelPropertiesTest extends AbstractHoldModelPropertiesTest {

  private static PostgresSchema schema;

  @Override
  String jdbcUrl(Path directory) {
    synchronized (PostgresHoldModelPropertiesTest.class) {
      if (schema == null) {
        schema = PostgresSchema.create("holdmodel");
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

package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** {@code JdbcCreditLedger.migrate} (the {@code creditgate migrate} command) on PostgreSQL. */
class PostgresMigrateTest {

  @Test
  void migrateBringsAnEmptySchemaUpToDateOnce() {
    try (PostgresSchema schema = PostgresSchema.create("migrate")) {
      assertThat(JdbcCreditLedger.migrate(schema.url())).isEqualTo(6);
      assertThat(JdbcCreditLedger.migrate(schema.url())).isZero();
    }
  }
}

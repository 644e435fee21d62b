package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.SpendQuery;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;

/** The spend series on PostgreSQL, in a schema of its own. */
class PostgresSpendSeriesTest extends AbstractSpendSeriesTest {

  private PostgresSchema schema;

  @Override
  String createDatabase() {
    schema = PostgresSchema.create("spend");
    return schema.url();
  }

  @Override
  void dropDatabase() {
    if (schema != null) {
      schema.close();
    }
  }

  /**
   * On an empty table both spend indexes cost the same; the benchmark shows the choice at scale.
   */
  @Override
  String oneAccountIndex() {
    return "entries_spend_";
  }

  @Override
  String plan(Connection c, String sql, SpendQuery query) throws Exception {
    execute(c, "SET enable_seqscan = off");
    try (PreparedStatement s = c.prepareStatement("EXPLAIN " + sql)) {
      bind(s, query);
      try (ResultSet rows = s.executeQuery()) {
        return String.join("\n", lines(rows, 1));
      }
    } finally {
      execute(c, "RESET enable_seqscan");
    }
  }
}

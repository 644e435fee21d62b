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
   * Plans from statistics of a table with entries in it: 5,000 charges of 100 accounts in 1990,
   * before any test's days. On an empty table the planner costs both spend indexes alike.
   */
  @Override
  String plan(Connection c, String sql, SpendQuery query) throws Exception {
    execute(
        c,
        "INSERT INTO accounts (id, created_at, updated_at) SELECT 'plan-' || a, now(), now()"
            + " FROM generate_series(1, 100) a ON CONFLICT (id) DO NOTHING");
    execute(
        c,
        "INSERT INTO entries (account_id, event_id, kind, amount, balance_after, created_at)"
            + " SELECT 'plan-' || (1 + g % 100), 'plan-' || g, 'CHARGE', -1, 0,"
            + " TIMESTAMPTZ '1990-01-01 00:00:00Z' + g * INTERVAL '1 minute'"
            + " FROM generate_series(1, 5000) g ON CONFLICT (account_id, event_id) DO NOTHING");
    execute(c, "ANALYZE entries");
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

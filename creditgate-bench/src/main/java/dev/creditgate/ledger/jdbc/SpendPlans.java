package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.SpendQuery;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The benchmark's view of the spend statement: its PostgreSQL plan, run with {@code EXPLAIN
 * (ANALYZE, BUFFERS)}. In the ledger's package (the statement is package-private there) rather than
 * a public diagnostic of the ledger's.
 */
public final class SpendPlans {

  private SpendPlans() {}

  /**
   * The plan of {@code query}'s statement, executed as the ledger executes it (JIT off), as
   * PostgreSQL prints it.
   */
  public static List<String> explainAnalyze(JdbcCreditLedger ledger, SpendQuery query)
      throws SQLException {
    List<String> lines = new ArrayList<>();
    try (Connection c = ledger.dataSource().getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement off = c.prepareStatement("SET LOCAL jit = off");
          PreparedStatement s =
              c.prepareStatement(
                  "EXPLAIN (ANALYZE, BUFFERS) " + SpendBuckets.sql(ledger.dialect(), query))) {
        off.execute();
        SpendBuckets.bind(ledger.dialect(), s, query);
        try (ResultSet rows = s.executeQuery()) {
          while (rows.next()) {
            lines.add(rows.getString(1));
          }
        }
      } finally {
        c.rollback();
        c.setAutoCommit(true);
      }
    }
    return lines;
  }
}

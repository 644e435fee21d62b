package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.SpendQuery;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;

/** The spend series on SQLite, in a temporary file. */
class SqliteSpendSeriesTest extends AbstractSpendSeriesTest {

  private Path directory;

  @Override
  String createDatabase() throws Exception {
    directory = Files.createTempDirectory("creditgate-sqlite-spend");
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }

  @Override
  void dropDatabase() throws Exception {
    SqliteCreditLedgerTest.deleteTree(directory);
  }

  @Override
  String plan(Connection c, String sql, SpendQuery query) throws Exception {
    try (PreparedStatement s = c.prepareStatement("EXPLAIN QUERY PLAN " + sql)) {
      bind(s, query);
      try (ResultSet rows = s.executeQuery()) {
        return String.join("\n", lines(rows, 4));
      }
    }
  }
}

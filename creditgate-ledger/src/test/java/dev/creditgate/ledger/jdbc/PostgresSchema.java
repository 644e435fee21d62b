package dev.creditgate.ledger.jdbc;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;

/** A PostgreSQL schema of its own for one test class, so parallel runs never share tables. */
final class PostgresSchema implements AutoCloseable {

  static final String BASE_URL =
      System.getenv()
          .getOrDefault(
              "CREDITGATE_POSTGRES_URL", "jdbc:postgresql://127.0.0.1:5432/test?user=postgres");

  private final String name;

  private PostgresSchema(String name) {
    this.name = name;
  }

  static PostgresSchema create(String prefix) {
    String name =
        ("cg_" + prefix + "_" + UUID.randomUUID().toString().substring(0, 8))
            .toLowerCase(Locale.ROOT);
    execute("CREATE SCHEMA " + name);
    return new PostgresSchema(name);
  }

  String name() {
    return name;
  }

  /** The base URL with this schema as the current one. */
  String url() {
    return withSchema(BASE_URL, name);
  }

  /** {@code url} (e.g. one pointing at a proxy) with this schema as the current one. */
  static String withSchema(String url, String schema) {
    return url + (url.contains("?") ? "&" : "?") + "currentSchema=" + schema;
  }

  static void execute(String sql) {
    try (Connection c = DriverManager.getConnection(BASE_URL);
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException("PostgreSQL at " + BASE_URL + " failed: " + sql, e);
    }
  }

  @Override
  public void close() {
    execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
  }
}

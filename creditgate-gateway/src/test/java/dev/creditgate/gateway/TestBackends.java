package dev.creditgate.gateway;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.UUID;

/** Real PostgreSQL and Redis for the tests, each test class in its own schema and key prefix. */
final class TestBackends {

  static final String POSTGRES_URL =
      env("CREDITGATE_POSTGRES_URL", "jdbc:postgresql://127.0.0.1:5432/test?user=postgres");
  static final String REDIS_URI = env("CREDITGATE_REDIS_URI", "redis://127.0.0.1:6379");

  private TestBackends() {}

  /** Creates a fresh schema and returns a JDBC URL whose connections use it. */
  static String freshPostgresSchema(String label) throws Exception {
    String schema =
        "gw_" + label + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    try (Connection c = DriverManager.getConnection(POSTGRES_URL);
        Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA " + schema);
    }
    return POSTGRES_URL + (POSTGRES_URL.contains("?") ? "&" : "?") + "currentSchema=" + schema;
  }

  static String freshRedisPrefix(String label) {
    return "cgtest-" + label + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private static String env(String name, String def) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? def : v;
  }
}

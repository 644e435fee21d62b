package dev.creditgate.ledger.jdbc;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PostgreSQL outage: the ledger reaches the server through a TCP proxy that is cut, breaking
 * every connection and refusing new ones, without touching the shared server. Uses a schema of its
 * own.
 */
final class PostgresOutage implements AutoCloseable {

  private static final Pattern HOST_PORT =
      Pattern.compile("jdbc:postgresql://([^:/?]+)(?::(\\d+))?(/.*)");

  private final PostgresSchema schema;
  private final TcpProxy proxy;
  private final String url;

  PostgresOutage(String schemaPrefix) throws Exception {
    Matcher m = HOST_PORT.matcher(PostgresSchema.BASE_URL);
    if (!m.matches()) {
      throw new IllegalStateException("cannot parse host and port of " + PostgresSchema.BASE_URL);
    }
    schema = PostgresSchema.create(schemaPrefix);
    proxy =
        new TcpProxy(m.group(1), m.group(2) == null ? 5432 : Integer.parseInt(m.group(2))).start();
    url =
        PostgresSchema.withSchema(
            "jdbc:postgresql://127.0.0.1:" + proxy.port() + m.group(3), schema.name());
  }

  /** The JDBC URL through the proxy. */
  String url() {
    return url;
  }

  synchronized void cut() {
    proxy.cut();
  }

  synchronized void restore() {
    proxy.restore();
  }

  @Override
  public void close() {
    proxy.close();
    schema.close();
  }
}

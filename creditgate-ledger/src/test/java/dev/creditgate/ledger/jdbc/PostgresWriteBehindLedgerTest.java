package dev.creditgate.ledger.jdbc;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Write-behind on PostgreSQL; the outage: the ledger reaches the server through a TCP proxy that
 * the test cuts, breaking every connection and refusing new ones, without touching the shared server.
 */
class PostgresWriteBehindLedgerTest extends AbstractWriteBehindLedgerTest {

  private static final Pattern HOST_PORT = Pattern.compile("jdbc:postgresql://([^:/?]+)(?::(\\d+))?(/.*)");

  private static PostgresSchema schema;
  private static TcpProxy proxy;
  private static String proxiedUrl;

  @BeforeAll
  static void startProxy() throws Exception {
    schema = PostgresSchema.create("writebehind");
    Matcher m = HOST_PORT.matcher(PostgresSchema.BASE_URL);
    if (!m.matches()) {
      throw new IllegalStateException("cannot parse host and port of " + PostgresSchema.BASE_URL);
    }
    proxy = new TcpProxy(m.group(1), m.group(2) == null ? 5432 : Integer.parseInt(m.group(2))).start();
    proxiedUrl = PostgresSchema.withSchema("jdbc:postgresql://127.0.0.1:" + proxy.port() + m.group(3), schema.name());
  }

  @AfterAll
  static void stopProxy() {
    proxy.close();
    schema.close();
  }

  @Override
  String jdbcUrl() {
    return proxiedUrl;
  }

  @Override
  synchronized void takeDatabaseAway() {
    proxy.cut();
  }

  @Override
  synchronized void bringDatabaseBack() throws Exception {
    if (proxy.isCut()) {
      proxy.start();
    }
  }
}

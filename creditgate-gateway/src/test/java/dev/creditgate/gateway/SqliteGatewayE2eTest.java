package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;

/** The end-to-end suite on the embedded defaults: SQLite ledger, in-process cache. */
class SqliteGatewayE2eTest extends AbstractGatewayE2eTest {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }
}

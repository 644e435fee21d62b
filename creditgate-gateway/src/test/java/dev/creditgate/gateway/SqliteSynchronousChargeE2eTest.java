package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;

/**
 * The end-to-end suite with {@code ledger.write-behind: false}: every charge is committed before
 * its answer leaves, which then carries the balance after it.
 */
class SqliteSynchronousChargeE2eTest extends AbstractGatewayE2eTest {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "ledger.write-behind",
        "false");
  }

  @Override
  boolean writeBehind() {
    return false;
  }
}

package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;

class SqliteAdminApiTest extends AbstractAdminApiTest {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }
}

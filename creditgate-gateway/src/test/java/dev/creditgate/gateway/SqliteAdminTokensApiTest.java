package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;

class SqliteAdminTokensApiTest extends AbstractAdminTokensApiTest {

  @Override
  Map<String, String> ledgerBackend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }
}

package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;

class PostgresAdminTokensApiTest extends AbstractAdminTokensApiTest {

  @Override
  Map<String, String> ledgerBackend(Path tmp) throws Exception {
    return Map.of("ledger.url", TestBackends.freshPostgresSchema("admintokens"));
  }
}

package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;

class PostgresAdminApiTest extends AbstractAdminApiTest {

  @Override
  Map<String, String> backend(Path tmp) throws Exception {
    return Map.of("ledger.url", TestBackends.freshPostgresSchema("admin"));
  }
}

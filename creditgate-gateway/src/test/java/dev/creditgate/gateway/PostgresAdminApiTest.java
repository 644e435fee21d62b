package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

class PostgresAdminApiTest extends AbstractAdminApiTest {

  static String url;

  @BeforeAll
  static void schema() throws Exception {
    url = TestBackends.freshPostgresSchema("admin");
  }

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", url);
  }
}

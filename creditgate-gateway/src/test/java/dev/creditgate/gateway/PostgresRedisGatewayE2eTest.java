package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/** The end-to-end suite on the production backends: PostgreSQL ledger (own schema), Redis cache (own prefix). */
class PostgresRedisGatewayE2eTest extends AbstractGatewayE2eTest {

  static String url;
  static String prefix;

  @BeforeAll
  static void schema() throws Exception {
    url = TestBackends.freshPostgresSchema("e2e");
    prefix = TestBackends.freshRedisPrefix("e2e");
  }

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", url, "cache.redis-uri", TestBackends.REDIS_URI, "cache.redis-prefix", prefix);
  }
}

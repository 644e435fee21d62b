package dev.creditgate.gateway;

import java.nio.file.Path;
import java.util.Map;

/**
 * The end-to-end suite on the production backends: PostgreSQL ledger (own schema), Redis cache (own
 * prefix).
 */
class PostgresRedisGatewayE2eTest extends AbstractGatewayE2eTest {

  @Override
  Map<String, String> backend(Path tmp) throws Exception {
    return Map.of(
        "ledger.url",
        TestBackends.freshPostgresSchema("e2e"),
        "cache.redis-uri",
        TestBackends.REDIS_URI,
        "cache.redis-prefix",
        TestBackends.freshRedisPrefix("e2e"));
  }
}

package dev.creditgate.redis;

import io.lettuce.core.RedisClient;
import java.time.Duration;
import java.util.UUID;

/**
 * The Redis set-ups core's contract suites run on: standalone, standalone with the near cache on,
 * and a three-master cluster. The standalone client is shared by the JVM and shut down when it
 * exits, as {@link SharedCluster} does for the cluster.
 */
enum ContractBackend {
  STANDALONE,
  /**
   * The near cache keeps the contracts as long as its TTL is below the expiry granularity they
   * check; that TTL is also how long it may serve an entry Redis already expired.
   */
  STANDALONE_WITH_NEAR_CACHE,
  CLUSTER;

  private static RedisClient standalone;

  /** A cache under a fresh key prefix, so tests sharing a server never see each other's keys. */
  RedisCreditCache isolatedCache(String prefix) {
    try {
      return builder()
          .keyPrefix(prefix + "-" + UUID.randomUUID().toString().substring(0, 8))
          .timeout(Duration.ofSeconds(2))
          .build();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private RedisCreditCacheBuilder builder() throws Exception {
    return switch (this) {
      case STANDALONE -> RedisCreditCache.builder(standalone());
      case STANDALONE_WITH_NEAR_CACHE ->
          RedisCreditCache.builder(standalone())
              .nearCache(true)
              .nearCacheTtl(Duration.ofMillis(50));
      case CLUSTER -> RedisCreditCache.builder(SharedCluster.client());
    };
  }

  private static synchronized RedisClient standalone() {
    if (standalone == null) {
      RedisClient client = RedisClient.create(StandaloneRedisCreditCacheTest.URI);
      client.setOptions(RedisCreditCache.recommendedClientOptions(Duration.ofSeconds(2)));
      Runtime.getRuntime()
          .addShutdownHook(new Thread(() -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2))));
      standalone = client;
    }
    return standalone;
  }
}

package dev.creditgate.redis;

import dev.creditgate.AbstractSnapshotPublisherTest;
import dev.creditgate.CreditCache;
import io.lettuce.core.RedisClient;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;

/** Core's {@code SnapshotPublisher} contract on Redis: standalone, with the near cache, and a cluster. */
class RedisSnapshotPublisherTest {

  static RedisClient client;

  @BeforeAll
  static void connect() {
    client = RedisClient.create(StandaloneRedisCreditCacheTest.URI);
    client.setOptions(RedisCreditCache.recommendedClientOptions(Duration.ofSeconds(2)));
  }

  @AfterAll
  static void disconnect() {
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  abstract static class OnRedis extends AbstractSnapshotPublisherTest {

    abstract RedisCreditCache.Builder builder() throws Exception;

    @Override
    protected CreditCache createCache() {
      try {
        return builder().keyPrefix("cgpublish-" + UUID.randomUUID().toString().substring(0, 8))
            .timeout(Duration.ofSeconds(2)).build();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    protected void closeCache(CreditCache cache) {
      ((RedisCreditCache) cache).close();
    }
  }

  @Nested
  class Standalone extends OnRedis {
    @Override
    RedisCreditCache.Builder builder() {
      return RedisCreditCache.builder(client);
    }
  }

  @Nested
  class StandaloneWithNearCache extends OnRedis {
    @Override
    RedisCreditCache.Builder builder() {
      return RedisCreditCache.builder(client).nearCache(true).nearCacheTtl(Duration.ofMillis(50));
    }
  }

  @Nested
  class Cluster extends OnRedis {
    @Override
    RedisCreditCache.Builder builder() throws Exception {
      return RedisCreditCache.builder(SharedCluster.client());
    }
  }
}

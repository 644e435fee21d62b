package dev.creditgate.redis;

import dev.creditgate.AbstractCreditCacheContractTest;
import dev.creditgate.CreditCache;
import io.lettuce.core.RedisClient;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;

/**
 * Core's {@code CreditCache} contract on Redis: standalone, standalone with the near cache on, and
 * a three-master cluster. Redis keeps its own clock, so TTLs are short and time passes for real.
 */
class RedisCreditCacheContractTest {

  /** Long enough for the checks made a quarter of it in, short enough to wait out. */
  static final Duration SHORT_TTL = Duration.ofMillis(400);

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

  abstract static class OnRedis extends AbstractCreditCacheContractTest {

    abstract RedisCreditCache.Builder builder() throws Exception;

    @Override
    protected CreditCache createCache() {
      try {
        return builder().keyPrefix("cgcontract-" + UUID.randomUUID().toString().substring(0, 8))
            .timeout(Duration.ofSeconds(2)).build();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    protected void elapse(Duration duration) {
      try {
        Thread.sleep(duration);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }

    @Override
    protected Duration shortTtl() {
      return SHORT_TTL;
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

  /**
   * The near cache keeps the contract as long as its TTL is below the expiry granularity the
   * contract checks; that TTL is also how long it may serve an entry Redis already expired.
   */
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

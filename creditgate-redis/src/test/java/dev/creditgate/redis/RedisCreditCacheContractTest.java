package dev.creditgate.redis;

import dev.creditgate.AbstractCreditCacheContractTest;
import dev.creditgate.CreditCache;
import java.time.Duration;
import org.junit.jupiter.api.Nested;

/**
 * Core's {@code CreditCache} contract on Redis: standalone, standalone with the near cache on, and
 * a three-master cluster. Redis keeps its own clock, so TTLs are short and time passes for real.
 */
class RedisCreditCacheContractTest {

  /** Long enough for the checks made a quarter of it in, short enough to wait out. */
  static final Duration SHORT_TTL = Duration.ofMillis(400);

  abstract static class OnRedis extends AbstractCreditCacheContractTest {

    private final ContractBackend backend;

    OnRedis(ContractBackend backend) {
      this.backend = backend;
    }

    @Override
    protected CreditCache createCache() {
      return backend.isolatedCache("cgcontract");
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
    Standalone() {
      super(ContractBackend.STANDALONE);
    }
  }

  @Nested
  class StandaloneWithNearCache extends OnRedis {
    StandaloneWithNearCache() {
      super(ContractBackend.STANDALONE_WITH_NEAR_CACHE);
    }
  }

  @Nested
  class Cluster extends OnRedis {
    Cluster() {
      super(ContractBackend.CLUSTER);
    }
  }
}

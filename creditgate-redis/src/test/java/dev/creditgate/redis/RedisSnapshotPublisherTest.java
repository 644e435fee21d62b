package dev.creditgate.redis;

import dev.creditgate.AbstractSnapshotPublisherTest;
import dev.creditgate.CreditCache;
import org.junit.jupiter.api.Nested;

/**
 * Core's {@code SnapshotPublisher} contract on Redis: standalone, with the near cache, and a
 * cluster.
 */
class RedisSnapshotPublisherTest {

  abstract static class OnRedis extends AbstractSnapshotPublisherTest {

    private final ContractBackend backend;

    OnRedis(ContractBackend backend) {
      this.backend = backend;
    }

    @Override
    protected CreditCache createCache() {
      return backend.isolatedCache("cgpublish");
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

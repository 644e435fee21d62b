package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.CacheLookup;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link RedisCreditCache} on a real three-master Redis Cluster this test starts on loopback ports
 * (skipped with a message when redis-server is missing, never when CI=true).
 */
class ClusterRedisCreditCacheTest extends AbstractRedisCreditCacheTest {

  static RedisClusterClient client;
  static StatefulRedisClusterConnection<String, String> rawConnection;

  @BeforeAll
  static void connect() throws Exception {
    client = SharedCluster.client();
    rawConnection = client.connect();
  }

  @AfterAll
  static void disconnect() {
    if (rawConnection != null) {
      rawConnection.close();
    }
  }

  @Override
  RedisCreditCache newCache(String prefix) {
    return RedisCreditCache.builder(client)
        .keyPrefix(prefix)
        .timeout(Duration.ofSeconds(2))
        .build();
  }

  @Override
  RedisClusterCommands<String, String> raw() {
    return rawConnection.sync();
  }

  @Test
  void accountsSpreadOverAllThreeMastersAndEachLooksUpInOneSlot() throws Exception {
    Set<String> masters = new HashSet<>();
    for (int i = 0; i < 60; i++) {
      String account = "acct-" + i;
      cache.putSnapshot(account, snapshot(i + 1, i + 1), TTL).get(1, TimeUnit.SECONDS);
      cache.setBlocked(account, i, TTL).get(1, TimeUnit.SECONDS);
      RedisClusterNode owner =
          rawConnection
              .getPartitions()
              .getPartitionBySlot(SlotHash.getSlot(cache.snapshotKey(account)));
      masters.add(owner.getNodeId());
      assertThat(SlotHash.getSlot(cache.markerKey(account)))
          .isEqualTo(SlotHash.getSlot(cache.snapshotKey(account)));
    }
    assertThat(masters).hasSize(3);
    for (int i = 0; i < 60; i++) {
      CacheLookup found = cache.lookup("acct-" + i).get(1, TimeUnit.SECONDS);
      assertThat(found).isEqualTo(new CacheLookup(i, snapshot(i + 1, i + 1)));
    }
  }

  @Test
  void nearCacheWorksOnTheClusterToo() throws Exception {
    try (RedisCreditCache a =
            RedisCreditCache.builder(client)
                .keyPrefix(prefix)
                .timeout(Duration.ofSeconds(2))
                .nearCache(true)
                .nearCacheTtl(Duration.ofMinutes(1))
                .build();
        RedisCreditCache b =
            RedisCreditCache.builder(client)
                .keyPrefix(prefix)
                .timeout(Duration.ofSeconds(2))
                .nearCache(true)
                .nearCacheTtl(Duration.ofMinutes(1))
                .build()) {
      for (int i = 0; i < 20; i++) {
        String account = "near-" + i;
        a.putSnapshot(account, snapshot(1, 1), TTL).get(1, TimeUnit.SECONDS);
        long expected = 2L * i + 1;
        // Wait for this write's message so that it cannot evict the entry b is about to cache.
        org.awaitility.Awaitility.await()
            .atMost(Duration.ofSeconds(1))
            .pollInterval(Duration.ofMillis(1))
            .until(() -> b.stats().nearInvalidations() == expected);
        assertThat(b.lookup(account).get(1, TimeUnit.SECONDS).snapshot().version()).isEqualTo(1);
        assertThat(b.lookup(account).get(1, TimeUnit.SECONDS).snapshot().version()).isEqualTo(1);
        a.putSnapshot(account, snapshot(2, 2), TTL).get(1, TimeUnit.SECONDS);
        org.awaitility.Awaitility.await()
            .atMost(Duration.ofSeconds(1))
            .pollInterval(Duration.ofMillis(1))
            .until(() -> b.lookup(account).get(1, TimeUnit.SECONDS).snapshot().version() == 2);
      }
      assertThat(b.stats().nearHits()).isGreaterThanOrEqualTo(20);
    }
  }
}

package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.creditgate.CacheLookup;
import dev.creditgate.CreditSnapshot;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Redis-specific promises of {@link RedisCreditCache}, run on standalone Redis and on a cluster:
 * key layout and encoding, versioned writes under races, server-side expiry, input checks.
 */
abstract class AbstractRedisCreditCacheTest {

  static final Duration TTL = Duration.ofMinutes(1);
  static final Instant AT = Instant.ofEpochSecond(1_795_000_000L, 123_456_789);

  String prefix;
  RedisCreditCache cache;

  /** A cache on the backend under test with the given key prefix. */
  abstract RedisCreditCache newCache(String prefix);

  /** Plain commands on the same backend, to look at what the cache stored. */
  abstract RedisClusterCommands<String, String> raw();

  @BeforeEach
  void openCache() {
    prefix = "cgtest-" + UUID.randomUUID().toString().substring(0, 8);
    cache = newCache(prefix);
  }

  @AfterEach
  void closeCache() {
    cache.close();
  }

  static CreditSnapshot snapshot(long credit, long version) {
    return new CreditSnapshot(credit, false, version, AT);
  }

  @Test
  void lookupOfUnknownAccountIsEmpty() throws Exception {
    assertThat(cache.lookup("nobody").get(1, TimeUnit.SECONDS)).isEqualTo(CacheLookup.EMPTY);
  }

  @Test
  void snapshotRoundTripsExactly() throws Exception {
    CreditSnapshot stored =
        new CreditSnapshot(-42, true, Long.MAX_VALUE - 1, Instant.ofEpochSecond(7, 1));
    assertThat(cache.putSnapshot("acct-1", stored, TTL).get(1, TimeUnit.SECONDS)).isTrue();
    CacheLookup found = cache.lookup("acct-1").get(1, TimeUnit.SECONDS);
    assertThat(found.snapshot()).isEqualTo(stored);
    assertThat(found.hasMarker()).isFalse();
  }

  @Test
  void keysAreHashTaggedIntoOneSlotAndReadableWithRedisCli() throws Exception {
    cache
        .putSnapshot("user:42", new CreditSnapshot(1500, false, 12, AT), TTL)
        .get(1, TimeUnit.SECONDS);
    cache.setBlocked("user:42", 12, TTL).get(1, TimeUnit.SECONDS);

    String snapshotKey = prefix + ":{user:42}:snapshot";
    String markerKey = prefix + ":{user:42}:blocked";
    assertThat(cache.snapshotKey("user:42")).isEqualTo(snapshotKey);
    assertThat(cache.markerKey("user:42")).isEqualTo(markerKey);
    assertThat(SlotHash.getSlot(snapshotKey)).isEqualTo(SlotHash.getSlot(markerKey));
    assertThat(raw().get(snapshotKey)).isEqualTo("1|12|1500|0|1795000000.123456789");
    assertThat(raw().get(markerKey)).isEqualTo("12");
    assertThat(raw().pttl(snapshotKey)).isBetween(1L, TTL.toMillis());
  }

  @Test
  void olderOrEqualVersionDoesNotReplaceNewer() throws Exception {
    assertThat(cache.putSnapshot("acct", snapshot(100, 5), TTL).get(1, TimeUnit.SECONDS)).isTrue();
    assertThat(cache.putSnapshot("acct", snapshot(999, 4), TTL).get(1, TimeUnit.SECONDS)).isFalse();
    assertThat(cache.putSnapshot("acct", snapshot(999, 5), TTL).get(1, TimeUnit.SECONDS)).isFalse();
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS).snapshot())
        .isEqualTo(snapshot(100, 5));
    assertThat(cache.putSnapshot("acct", snapshot(7, 6), TTL).get(1, TimeUnit.SECONDS)).isTrue();
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS).snapshot()).isEqualTo(snapshot(7, 6));
  }

  @Test
  void versionsCompareExactlyBeyondLuaNumberPrecision() throws Exception {
    long big = (1L << 53) + 1;
    assertThat(cache.putSnapshot("acct", snapshot(1, big), TTL).get(1, TimeUnit.SECONDS)).isTrue();
    assertThat(cache.putSnapshot("acct", snapshot(2, big - 1), TTL).get(1, TimeUnit.SECONDS))
        .isFalse();
    assertThat(cache.putSnapshot("acct", snapshot(3, big + 1), TTL).get(1, TimeUnit.SECONDS))
        .isTrue();
    assertThat(cache.putSnapshot("acct", snapshot(4, 999), TTL).get(1, TimeUnit.SECONDS)).isFalse();
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS).snapshot().version())
        .isEqualTo(big + 1);
  }

  /**
   * The stale write-back race: readers writing back what they read, in any order, never go back a
   * version.
   */
  @Test
  void racingWritersNeverReplaceANewerSnapshot() throws Exception {
    int versions = 300;
    List<Long> order = new ArrayList<>();
    for (long v = 1; v <= versions; v++) {
      order.add(v);
    }
    Collections.shuffle(order);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    CountDownLatch start = new CountDownLatch(1);
    AtomicInteger stored = new AtomicInteger();
    List<Future<?>> done = new ArrayList<>();
    try {
      for (int t = 0; t < 8; t++) {
        int thread = t;
        done.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = thread; i < order.size(); i += 8) {
                    long v = order.get(i);
                    if (cache
                        .putSnapshot("hot", snapshot(v * 10, v), TTL)
                        .get(5, TimeUnit.SECONDS)) {
                      stored.incrementAndGet();
                    }
                    long seen = cache.lookup("hot").get(5, TimeUnit.SECONDS).snapshot().version();
                    assertThat(seen).isGreaterThanOrEqualTo(v);
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(cache.lookup("hot").get(1, TimeUnit.SECONDS).snapshot())
        .isEqualTo(snapshot(versions * 10L, versions));
    assertThat(stored.get()).isBetween(1, versions);
  }

  @Test
  void markerRecordsVersionAndIsCleared() throws Exception {
    cache.putSnapshot("acct", snapshot(0, 3), TTL).get(1, TimeUnit.SECONDS);
    cache.setBlocked("acct", 3, TTL).get(1, TimeUnit.SECONDS);
    CacheLookup blocked = cache.lookup("acct").get(1, TimeUnit.SECONDS);
    assertThat(blocked.markerVersion()).isEqualTo(3);
    assertThat(blocked.markerApplies()).isTrue();

    cache.putSnapshot("acct", snapshot(500, 4), TTL).get(1, TimeUnit.SECONDS);
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS).markerApplies()).isFalse();

    cache.clearBlocked("acct").get(1, TimeUnit.SECONDS);
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS))
        .isEqualTo(new CacheLookup(CacheLookup.NO_MARKER, snapshot(500, 4)));

    cache.setBlocked("acct", 4, TTL).get(1, TimeUnit.SECONDS);
    cache.invalidate("acct").get(1, TimeUnit.SECONDS);
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS)).isEqualTo(CacheLookup.EMPTY);
    assertThat(raw().exists(cache.snapshotKey("acct"), cache.markerKey("acct"))).isZero();
  }

  @Test
  void entriesExpireOnTheServer() throws Exception {
    cache.putSnapshot("short", snapshot(1, 1), Duration.ofMillis(300)).get(1, TimeUnit.SECONDS);
    cache.setBlocked("short", 1, Duration.ofMillis(300)).get(1, TimeUnit.SECONDS);
    cache.putSnapshot("long", snapshot(1, 1), TTL).get(1, TimeUnit.SECONDS);
    assertThat(cache.lookup("short").get(1, TimeUnit.SECONDS).hasMarker()).isTrue();
    await()
        .atMost(Duration.ofSeconds(3))
        .pollInterval(Duration.ofMillis(20))
        .untilAsserted(
            () ->
                assertThat(cache.lookup("short").get(1, TimeUnit.SECONDS))
                    .isEqualTo(CacheLookup.EMPTY));
    assertThat(cache.lookup("long").get(1, TimeUnit.SECONDS).snapshot()).isNotNull();
    // After expiry an older version may be stored again: nothing remembers the expired one.
    assertThat(cache.putSnapshot("short", snapshot(1, 0), TTL).get(1, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void malformedValuesAreIgnoredAndOverwritten() throws Exception {
    raw().set(cache.snapshotKey("acct"), "not a snapshot");
    raw().set(cache.markerKey("acct"), "yes");
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS)).isEqualTo(CacheLookup.EMPTY);
    assertThat(cache.putSnapshot("acct", snapshot(5, 1), TTL).get(1, TimeUnit.SECONDS)).isTrue();
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS).snapshot()).isEqualTo(snapshot(5, 1));
  }

  @Test
  void badInputIsRejectedNamingTheValueAndChangesNothing() throws Exception {
    assertThatThrownBy(() -> cache.lookup("a{b}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'a{b}'");
    assertThatThrownBy(() -> cache.lookup(null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("null");
    assertThatThrownBy(() -> cache.putSnapshot("acct", snapshot(1, 1), Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ttl must be positive, but was PT0S");
    assertThatThrownBy(() -> cache.setBlocked("acct", -3, TTL))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-3");
    assertThatThrownBy(() -> cache.setBlocked("acct", 1, Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PT-1S");
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS)).isEqualTo(CacheLookup.EMPTY);
  }

  @Test
  void subMillisecondTtlRoundsUpInsteadOfFailing() throws Exception {
    CompletableFuture<Boolean> put =
        cache.putSnapshot("tiny", snapshot(1, 1), Duration.ofNanos(10));
    assertThat(put.get(1, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void statsCountCalls() throws Exception {
    long before = cache.stats().calls();
    cache.lookup("acct").get(1, TimeUnit.SECONDS);
    cache.putSnapshot("acct", snapshot(1, 1), TTL).get(1, TimeUnit.SECONDS);
    RedisCacheStats stats = cache.stats();
    assertThat(stats.calls() - before).isEqualTo(2);
    assertThat(stats.failures()).isZero();
    assertThat(stats.breakerState())
        .isEqualTo(io.github.resilience4j.circuitbreaker.CircuitBreaker.State.CLOSED);
  }
}

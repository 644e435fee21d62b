package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.creditgate.CacheLookup;
import dev.creditgate.CreditSnapshot;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.lettuce.core.AclSetuserArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.protocol.CommandType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Coalesced lookups on a redis-server of the test's own, so that its command counters count only
 * this test's commands.
 */
class LookupBatchingTest {

  static final Duration TTL = Duration.ofMinutes(1);
  static final Instant AT = Instant.ofEpochSecond(1_795_000_000L, 5);
  static final int ACCOUNTS = 400;

  /** A breaker that stays closed through every failure these tests cause on purpose. */
  static final CircuitBreakerConfig PATIENT_BREAKER =
      CircuitBreakerConfig.custom().slidingWindowSize(10_000).minimumNumberOfCalls(10_000).build();

  RedisServerProcess server;
  RedisClient statsClient;
  StatefulRedisConnection<String, String> stats;

  @BeforeEach
  void start() {
    server = RedisServerProcess.start();
    statsClient = RedisClient.create(server.uri());
    stats = statsClient.connect();
  }

  @AfterEach
  void stop() {
    stats.close();
    statsClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    server.close();
  }

  /** Account i: i credits at version i, a marker on every 7th, nothing stored for every 11th. */
  static CacheLookup expected(int i) {
    if (i % 11 == 0) {
      return CacheLookup.EMPTY;
    }
    return new CacheLookup(
        i % 7 == 0 ? i : CacheLookup.NO_MARKER, new CreditSnapshot(i, false, i, AT));
  }

  static void fill(RedisCreditCache cache) throws Exception {
    List<CompletableFuture<?>> writes = new ArrayList<>();
    for (int i = 1; i <= ACCOUNTS; i++) {
      CacheLookup want = expected(i);
      if (want.snapshot() != null) {
        writes.add(cache.putSnapshot("acct-" + i, want.snapshot(), TTL));
      }
      if (want.hasMarker()) {
        writes.add(cache.setBlocked("acct-" + i, want.markerVersion(), TTL));
      }
    }
    CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
  }

  @Test
  void concurrentLookupsOfDifferentAccountsShareMgetsAndEachGetsItsOwnAnswer() throws Exception {
    try (RedisCreditCache cache =
        RedisCreditCache.builder(server.uri())
            .keyPrefix("batch")
            .timeout(Duration.ofSeconds(5))
            .circuitBreaker(PATIENT_BREAKER)
            .build()) {
      fill(cache);

      long mgetsBefore = calls(stats.sync(), "mget");
      // Redis holds the first lookup's MGET for a moment, so that on any machine all the others
      // arrive while it is busy, which is when they are coalesced.
      stats.sync().clientPause(500);
      List<CompletableFuture<CacheLookup>> found = new ArrayList<>();
      for (int i = 1; i <= ACCOUNTS; i++) {
        found.add(cache.lookup("acct-" + i));
      }
      for (int i = 1; i <= ACCOUNTS; i++) {
        assertThat(found.get(i - 1).get(5, TimeUnit.SECONDS))
            .as("lookup of acct-" + i)
            .isEqualTo(expected(i));
      }
      long mgets = calls(stats.sync(), "mget") - mgetsBefore;
      // Fewer commands than lookups is the point; no MGET carries more than the batch limit
      // (1 alone, then 399 in batches of at most 64: 7 more, if all queued during the pause).
      assertThat(mgets)
          .isLessThan(ACCOUNTS / 10)
          .isGreaterThanOrEqualTo(
              1
                  + (ACCOUNTS - 1 + RedisCreditCache.DEFAULT_LOOKUP_BATCH_MAX_ACCOUNTS - 1)
                      / RedisCreditCache.DEFAULT_LOOKUP_BATCH_MAX_ACCOUNTS);

      // Blocking callers on many threads, random accounts, repeats included: every answer is the
      // caller's own account's.
      ExecutorService callers = Executors.newFixedThreadPool(16);
      try {
        List<Future<Integer>> checked = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
          checked.add(
              callers.submit(
                  () -> {
                    int n = 0;
                    for (; n < 300; n++) {
                      int i = 1 + ThreadLocalRandom.current().nextInt(ACCOUNTS);
                      assertThat(cache.lookup("acct-" + i).get(5, TimeUnit.SECONDS))
                          .as("lookup of acct-" + i)
                          .isEqualTo(expected(i));
                    }
                    return n;
                  }));
        }
        for (Future<Integer> done : checked) {
          assertThat(done.get(60, TimeUnit.SECONDS)).isEqualTo(300);
        }
      } finally {
        callers.shutdownNow();
      }
      assertThat(cache.stats().failures()).isZero();
    }
  }

  @Test
  void withBatchingOffEveryLookupIsItsOwnMget() throws Exception {
    try (RedisCreditCache cache =
        RedisCreditCache.builder(server.uri())
            .keyPrefix("single")
            .timeout(Duration.ofSeconds(5))
            .lookupBatching(false)
            .build()) {
      fill(cache);
      long mgetsBefore = calls(stats.sync(), "mget");
      List<CompletableFuture<CacheLookup>> found = new ArrayList<>();
      for (int i = 1; i <= ACCOUNTS; i++) {
        found.add(cache.lookup("acct-" + i));
      }
      for (int i = 1; i <= ACCOUNTS; i++) {
        assertThat(found.get(i - 1).get(5, TimeUnit.SECONDS)).isEqualTo(expected(i));
      }
      assertThat(calls(stats.sync(), "mget") - mgetsBefore).isEqualTo(ACCOUNTS);
    }
  }

  @Test
  void aFailedBatchFailsEachOfItsCallersAndBatchingRecovers() throws Exception {
    try (RedisCreditCache cache =
        RedisCreditCache.builder(server.uri())
            .keyPrefix("denied")
            .timeout(Duration.ofSeconds(5))
            .circuitBreaker(PATIENT_BREAKER)
            .build()) {
      fill(cache);
      // A real server-side error for every MGET: the ACL takes the command away from this user.
      stats.sync().aclSetuser("default", AclSetuserArgs.Builder.removeCommand(CommandType.MGET));
      stats.sync().clientPause(500);
      List<CompletableFuture<CacheLookup>> found = new ArrayList<>();
      for (int i = 1; i <= ACCOUNTS; i++) {
        found.add(cache.lookup("acct-" + i));
      }
      for (CompletableFuture<CacheLookup> lookup : found) {
        ExecutionException failure =
            assertThrows(ExecutionException.class, () -> lookup.get(5, TimeUnit.SECONDS));
        assertThat(failure.getCause())
            .isInstanceOf(RedisCacheException.class)
            .hasMessageContaining("NOPERM");
      }
      assertThat(cache.stats().failures()).isEqualTo(ACCOUNTS);
      assertThat(rejectedCalls(stats.sync(), "mget")).isPositive().isLessThan(ACCOUNTS / 10);

      stats.sync().aclSetuser("default", AclSetuserArgs.Builder.addCommand(CommandType.MGET));
      found.clear();
      for (int i = 1; i <= ACCOUNTS; i++) {
        found.add(cache.lookup("acct-" + i));
      }
      for (int i = 1; i <= ACCOUNTS; i++) {
        assertThat(found.get(i - 1).get(5, TimeUnit.SECONDS)).isEqualTo(expected(i));
      }
    }
  }

  @Test
  void theBudgetBoundsEveryCallerAlsoThoseQueuedBehindAStuckBatch() throws Exception {
    long budgetMillis = 200;
    try (RedisCreditCache cache =
        RedisCreditCache.builder(server.uri())
            .keyPrefix("stuck")
            .timeout(Duration.ofMillis(budgetMillis))
            .circuitBreaker(PATIENT_BREAKER)
            .lookupBatchesInFlight(1)
            .build()) {
      cache.putSnapshot("acct-1", expected(1).snapshot(), TTL).get(5, TimeUnit.SECONDS);
      stats.sync().clientPause(3000);
      long pausedAt = System.nanoTime();
      // Waves 50 ms apart: later callers queue behind a batch that gets no answer.
      Map<Integer, CompletableFuture<Long>> tookMillis = new HashMap<>();
      for (int wave = 0; wave < 5; wave++) {
        for (int k = 0; k < 10; k++) {
          long start = System.nanoTime();
          CompletableFuture<Long> took = new CompletableFuture<>();
          cache
              .lookup("acct-" + (wave * 10 + k + 1))
              .whenComplete(
                  (value, error) -> {
                    if (error instanceof RedisCacheException
                        && error.getMessage().contains("no answer within 200 ms")) {
                      took.complete(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
                    } else {
                      took.completeExceptionally(
                          new AssertionError("expected a timeout, got " + value + " / " + error));
                    }
                  });
          tookMillis.put(wave * 10 + k, took);
        }
        Thread.sleep(50);
      }
      for (var entry : tookMillis.entrySet()) {
        // Slack for a two-core machine shared with parallel builds; far below the 3 s pause.
        assertThat(entry.getValue().get(5, TimeUnit.SECONDS))
            .as("caller " + entry.getKey())
            .isBetween(budgetMillis - 5, budgetMillis + 1000);
      }
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - pausedAt)).isLessThan(2500);
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(100))
          .ignoreExceptions()
          .untilAsserted(
              () ->
                  assertThat(cache.lookup("acct-1").get(5, TimeUnit.SECONDS))
                      .isEqualTo(expected(1)));
    }
  }

  @Test
  void aLoneLookupIsSentAtOnceWithoutWaitingForCompany() throws Exception {
    try (RedisCreditCache cache =
        RedisCreditCache.builder(server.uri())
            .keyPrefix("lone")
            .timeout(Duration.ofSeconds(5))
            .build()) {
      fill(cache);
      for (int i = 1; i <= 20; i++) {
        long mgetsBefore = calls(stats.sync(), "mget");
        assertThat(cache.lookup("acct-" + i).get(5, TimeUnit.SECONDS)).isEqualTo(expected(i));
        assertThat(calls(stats.sync(), "mget") - mgetsBefore).isEqualTo(1);
      }
    }
  }

  static long calls(RedisCommands<String, String> commands, String command) {
    return StandaloneRedisCreditCacheTest.commandCalls(commands).getOrDefault(command, 0L);
  }

  static long rejectedCalls(RedisCommands<String, String> commands, String command) {
    for (String line : commands.info("commandstats").split("\r?\n")) {
      if (line.startsWith("cmdstat_" + command + ":")) {
        int at = line.indexOf("rejected_calls=") + "rejected_calls=".length();
        int end = line.indexOf(',', at);
        return Long.parseLong(end < 0 ? line.substring(at) : line.substring(at, end));
      }
    }
    return 0;
  }
}

package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditSnapshot;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Redis dies or hangs under a guard in use: calls keep being admitted within the time budget, the
 * breaker opens so calls stop paying for the network, and decisions come from Redis again soon
 * after it returns.
 */
class RedisFaultTest {

  static final Duration BUDGET = Duration.ofMillis(100);

  /**
   * Scheduling allowance on a shared two-core machine; the budget itself is enforced by a timer.
   */
  static final long SLACK_MS = 75;

  /**
   * The odd call is descheduled or caught in a GC pause on a loaded two-core machine (seen even
   * while the breaker is open and the call never touches the network), so the maximum gets this
   * much more room, and at most 1 % of calls may exceed budget plus slack. A cache that really
   * waited (Lettuce's 60 s default, a TCP connect timeout) would fail both by far.
   */
  static final long STALL_MS = 1000;

  static final Duration BREAKER_OPEN = Duration.ofMillis(300);

  /**
   * The back-fill stored a zero balance and the guard then set the blocked marker: both live in
   * Redis.
   */
  static final Admission.Reason[] FROM_REDIS_DENIALS = {
    Admission.Reason.DENIED_BLOCKED_MARKER, Admission.Reason.DENIED_NON_POSITIVE_BALANCE
  };

  RedisServerProcess server;
  RedisCreditCache cache;
  CreditBalanceGuard guard;
  final AtomicInteger storeFetches = new AtomicInteger();
  final Map<String, Long> balances = new ConcurrentHashMap<>(Map.of("rich", 1_000L, "broke", 0L));

  @BeforeEach
  void start() {
    server = RedisServerProcess.start();
    cache =
        RedisCreditCache.builder(server.uri())
            .keyPrefix("fault")
            .timeout(BUDGET)
            .breakerOpenDuration(BREAKER_OPEN)
            .build();
    guard =
        CreditBalanceGuard.builder()
            .cache(cache)
            .cacheTimeout(BUDGET)
            .snapshotProvider(
                account -> {
                  storeFetches.incrementAndGet();
                  return Optional.ofNullable(balances.get(account))
                      .map(credit -> new CreditSnapshot(credit, false, 1, Instant.now()));
                })
            .build();
  }

  @AfterEach
  void stop() throws Exception {
    guard.close();
    cache.close();
    server.signal("CONT");
    server.close();
  }

  @Test
  void killedRedisFailsOpenWithinBudgetThenRecovers() throws Exception {
    assertDecisionsComeFromRedis();

    server.kill();
    List<Long> millis = hammer(Duration.ofMillis(1500));
    assertThat(overBudget(millis))
        .as("share of guard calls over budget + slack while Redis is dead")
        .isLessThanOrEqualTo(0.01);
    assertThat(millis.getLast())
        .as("slowest guard call while Redis is dead, ms")
        .isLessThanOrEqualTo(BUDGET.toMillis() + STALL_MS);
    assertThat(cache.circuitBreaker().getState())
        .isIn(CircuitBreaker.State.OPEN, CircuitBreaker.State.HALF_OPEN);
    assertThat(cache.stats().rejected()).isPositive();
    assertOpenBreakerFailsInMicroseconds();

    server.restart();
    long restarted = System.nanoTime();
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .untilAsserted(
            () -> {
              assertThat(guard.check(BillingContext.forAccount("broke")).reason())
                  .isIn(FROM_REDIS_DENIALS);
              assertThat(cache.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.CLOSED);
            });
    System.out.printf(
        "decisions from Redis again %d ms after the restart%n",
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restarted));
    assertDecisionsComeFromRedis();
  }

  @Test
  void hungRedisCostsAtMostTheBudgetThenRecovers() throws Exception {
    assertDecisionsComeFromRedis();

    server.signal("STOP");
    long start = System.nanoTime();
    CompletableFuture<?> lookup = cache.lookup("rich");
    Throwable failure = lookup.handle((value, error) -> error).get(5, TimeUnit.SECONDS);
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertThat(failure)
        .isInstanceOf(RedisCacheException.class)
        .hasMessageContaining("no answer within 100 ms");
    assertThat(tookMs).isBetween(BUDGET.toMillis() - 5, BUDGET.toMillis() + SLACK_MS);

    List<Long> millis = hammer(Duration.ofMillis(1500));
    assertThat(overBudget(millis))
        .as("share of guard calls over budget + slack while Redis hangs")
        .isLessThanOrEqualTo(0.01);
    assertThat(millis.getLast())
        .as("slowest guard call while Redis hangs, ms")
        .isLessThanOrEqualTo(BUDGET.toMillis() + STALL_MS);
    assertThat(cache.stats().timeouts()).isPositive();
    assertThat(cache.circuitBreaker().getState())
        .isIn(CircuitBreaker.State.OPEN, CircuitBreaker.State.HALF_OPEN);
    assertOpenBreakerFailsInMicroseconds();

    server.signal("CONT");
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .untilAsserted(
            () -> {
              assertThat(guard.check(BillingContext.forAccount("broke")).reason())
                  .isIn(FROM_REDIS_DENIALS);
              assertThat(cache.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.CLOSED);
            });
    assertDecisionsComeFromRedis();
  }

  /**
   * "broke" is denied and "rich" admitted twenty times in a row without reading the store: the
   * answers came from the snapshots in Redis. Retried for a while, since on a loaded machine a
   * back-fill may itself miss the budget and the next call then fetches again.
   */
  private void assertDecisionsComeFromRedis() {
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () -> {
              guard.check(BillingContext.forAccount("broke"));
              guard.check(BillingContext.forAccount("rich"));
              int fetches = storeFetches.get();
              for (int i = 0; i < 20; i++) {
                assertThat(guard.check(BillingContext.forAccount("broke")).reason())
                    .isIn(FROM_REDIS_DENIALS);
                assertThat(guard.check(BillingContext.forAccount("rich")).reason())
                    .isEqualTo(Admission.Reason.BALANCE_POSITIVE);
              }
              assertThat(storeFetches.get()).isEqualTo(fetches);
            });
  }

  private static double overBudget(List<Long> sortedMillis) {
    long over = sortedMillis.stream().filter(ms -> ms > BUDGET.toMillis() + SLACK_MS).count();
    System.out.printf("%d of %d guard calls over budget + slack%n", over, sortedMillis.size());
    return over / (double) sortedMillis.size();
  }

  /**
   * Four callers for {@code duration}; every call must be decided without Redis: "rich" admitted
   * (fail-open), "broke", which the guard denied from Redis moments before, denied again from
   * memory. Returns each call's ms.
   */
  private List<Long> hammer(Duration duration) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    ConcurrentLinkedQueue<Long> millis = new ConcurrentLinkedQueue<>();
    long end = System.nanoTime() + duration.toNanos();
    try {
      List<Future<?>> callers = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        String account = t % 2 == 0 ? "broke" : "rich";
        Admission.Reason expected =
            t % 2 == 0
                ? Admission.Reason.DENIED_RECENT_DENIAL
                : Admission.Reason.FAIL_OPEN_CACHE_ERROR;
        callers.add(
            pool.submit(
                () -> {
                  while (System.nanoTime() < end) {
                    long start = System.nanoTime();
                    Admission admission = guard.check(BillingContext.forAccount(account));
                    long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                    millis.add(took);
                    assertThat(admission.reason()).isEqualTo(expected);
                  }
                  return null;
                }));
      }
      for (Future<?> caller : callers) {
        caller.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(millis).hasSizeGreaterThan(100);
    List<Long> all = new ArrayList<>(millis);
    Collections.sort(all);
    System.out.printf(
        "%d guard calls: p50 %d ms, p99 %d ms, p99.9 %d ms, max %d ms%n",
        all.size(),
        all.get(all.size() / 2),
        all.get(all.size() * 99 / 100),
        all.get(all.size() * 999 / 1000),
        all.getLast());
    return all;
  }

  private void assertOpenBreakerFailsInMicroseconds() {
    // Forced open for the measurement, so the breaker does not go half-open and probe meanwhile.
    cache.circuitBreaker().transitionToForcedOpenState();
    int calls = 20_000;
    int failedAtOnce = 0;
    long start = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      if (cache.lookup("rich").isCompletedExceptionally()) {
        failedAtOnce++;
      }
    }
    long lookupNanos = (System.nanoTime() - start) / calls;
    int failedOpen = 0;
    start = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      if (guard.check(BillingContext.forAccount("rich")).reason()
          == Admission.Reason.FAIL_OPEN_CACHE_ERROR) {
        failedOpen++;
      }
    }
    long guardNanos = (System.nanoTime() - start) / calls;
    System.out.printf(
        "breaker open: lookup fails in %d ns, guard.check fails open in %d ns (averages)%n",
        lookupNanos, guardNanos);
    assertThat(failedAtOnce).isEqualTo(calls);
    assertThat(failedOpen).isEqualTo(calls);
    // Microseconds, though this shared two-core machine under parallel builds has shown 0.4-18 us
    // per lookup and 20-130 us per guard call; the bound leaves room for that and is still 200
    // times below the time budget a call would otherwise wait.
    assertThat(lookupNanos).isLessThan(TimeUnit.MICROSECONDS.toNanos(500));
    assertThat(guardNanos).isLessThan(TimeUnit.MICROSECONDS.toNanos(500));
    cache.circuitBreaker().transitionToOpenState();
  }
}

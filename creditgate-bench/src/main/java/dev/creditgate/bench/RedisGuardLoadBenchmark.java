package dev.creditgate.bench;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.redis.RedisCreditCache;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntPredicate;
import org.HdrHistogram.Histogram;

/**
 * Guard decisions per second against one Redis, side by side in one run, with 64 concurrent
 * callers over 10,000 funded accounts (every decision admits: the common path):
 * <ol type="a">
 *   <li>baseline: the seed's algorithm ported as-is with Lettuce: GET the blocked marker, then GET
 *       the JSON snapshot, sequentially, synchronous calls on one shared connection;</li>
 *   <li>{@link CreditBalanceGuard} on {@link RedisCreditCache}: one MGET per decision;</li>
 *   <li>the same with the near cache on.</li>
 * </ol>
 * It also runs {@code redis-benchmark -t get -c 64 -q} against the same server as the physical
 * reference. Usage (about 50 s):
 * <pre>java -cp creditgate-bench/target/benchmarks.jar dev.creditgate.bench.RedisGuardLoadBenchmark \
 *   [redisUri] [measureSeconds] [warmupSeconds]</pre>
 */
public final class RedisGuardLoadBenchmark {

  static final int CALLERS = 64;
  static final int ACCOUNTS = 10_000;

  private RedisGuardLoadBenchmark() {
  }

  record Result(String name, double perSecond, long p50Micros, long p99Micros, long decisions, long degraded) {
  }

  public static void main(String[] args) throws Exception {
    String uri = args.length > 0 ? args[0] : System.getenv().getOrDefault("CREDITGATE_REDIS_URI",
        "redis://127.0.0.1:6379");
    int measureSeconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    int warmupSeconds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    String prefix = "cgbench-" + UUID.randomUUID().toString().substring(0, 8);
    String[] accounts = new String[ACCOUNTS];
    BillingContext[] contexts = new BillingContext[ACCOUNTS];
    for (int i = 0; i < ACCOUNTS; i++) {
      accounts[i] = "user-" + (i + 1);
      contexts[i] = BillingContext.forAccount(accounts[i]).withEventId("evt").withModelAlias("pro");
    }

    RedisClient client = RedisClient.create(uri);
    List<Result> results = new ArrayList<>();
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisCommands<String, String> sync = connection.sync();
      String seedPrefix = prefix + ":smartflow";
      Instant now = Instant.now();
      for (int i = 0; i < ACCOUNTS; i++) {
        // The seed's snapshot: JSON {"balance":..,"updated_at":..}; no blocked marker for funded accounts.
        sync.set(seedPrefix + ":credit_balance_snapshot:" + accounts[i],
            "{\"balance\":1000000,\"updated_at\":\"" + now + "\"}");
      }
      SeedGuard seed = new SeedGuard(sync, seedPrefix);
      results.add(run("a) seed port: GET marker, GET snapshot", measureSeconds, warmupSeconds,
          i -> seed.admit(accounts[i])));

      // Filled with a patient budget: the first writes pay for connecting and loading scripts.
      try (RedisCreditCache filler = RedisCreditCache.builder(uri).keyPrefix(prefix).timeout(Duration.ofSeconds(5))
          .build()) {
        fill(filler, accounts, now);
      }
      try (RedisCreditCache cache = RedisCreditCache.builder(uri).keyPrefix(prefix).build();
           CreditBalanceGuard guard = CreditBalanceGuard.builder().cache(cache).build()) {
        results.add(runGuard("b) guard + RedisCreditCache (one MGET)", guard, contexts, measureSeconds,
            warmupSeconds));
      }
      try (RedisCreditCache cache = RedisCreditCache.builder(uri).keyPrefix(prefix).nearCache(true).build();
           CreditBalanceGuard guard = CreditBalanceGuard.builder().cache(cache).build()) {
        results.add(runGuard("c) guard + RedisCreditCache + near cache", guard, contexts, measureSeconds,
            warmupSeconds));
        System.out.println("near cache: " + cache.stats());
      }
      cleanUp(sync, prefix);
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    String reference = redisBenchmark(RedisURI.create(uri));
    print(results, reference, measureSeconds);
  }

  private static void fill(RedisCreditCache cache, String[] accounts, Instant now) throws Exception {
    List<java.util.concurrent.CompletableFuture<Boolean>> puts = new ArrayList<>();
    for (String account : accounts) {
      puts.add(cache.putSnapshot(account, new CreditSnapshot(1_000_000, false, 1, now), Duration.ofHours(1)));
      if (puts.size() == 500) {
        for (var put : puts) {
          put.get(5, TimeUnit.SECONDS);
        }
        puts.clear();
      }
    }
    for (var put : puts) {
      put.get(5, TimeUnit.SECONDS);
    }
  }

  private static Result runGuard(String name, CreditBalanceGuard guard, BillingContext[] contexts,
      int measureSeconds, int warmupSeconds) throws InterruptedException {
    return run(name, measureSeconds, warmupSeconds, i -> {
      Admission admission = guard.check(contexts[i]);
      if (admission.reason().degraded() || !admission.isAdmitted()) {
        return false;
      }
      return true;
    });
  }

  /**
   * {@link #CALLERS} threads call {@code decide} on random accounts; each call's latency goes into
   * the histogram. A decision that returns false was degraded (fail-open) or wrong and is counted.
   */
  private static Result run(String name, int measureSeconds, int warmupSeconds, IntPredicate decide)
      throws InterruptedException {
    System.out.printf("%s: warm-up %d s, measure %d s%n", name, warmupSeconds, measureSeconds);
    Histogram histogram = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
    LongAdder decisions = new LongAdder();
    LongAdder degraded = new LongAdder();
    long warmupEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(warmupSeconds);
    long end = warmupEnd + TimeUnit.SECONDS.toNanos(measureSeconds);
    CountDownLatch done = new CountDownLatch(CALLERS);
    List<Histogram> perThread = new ArrayList<>();
    for (int t = 0; t < CALLERS; t++) {
      Histogram mine = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
      perThread.add(mine);
      Thread.ofPlatform().name("caller-" + t).start(() -> {
        try {
          ThreadLocalRandom random = ThreadLocalRandom.current();
          long n = 0;
          long bad = 0;
          while (true) {
            long start = System.nanoTime();
            if (start >= end) {
              break;
            }
            boolean ok = decide.test(random.nextInt(ACCOUNTS));
            long took = System.nanoTime() - start;
            if (start >= warmupEnd) {
              mine.recordValue(Math.min(took, mine.getHighestTrackableValue()));
              n++;
              if (!ok) {
                bad++;
              }
            }
          }
          decisions.add(n);
          degraded.add(bad);
        } finally {
          done.countDown();
        }
      });
    }
    done.await();
    for (Histogram h : perThread) {
      histogram.add(h);
    }
    double perSecond = decisions.sum() / (double) measureSeconds;
    Result result = new Result(name, perSecond, histogram.getValueAtPercentile(50) / 1000,
        histogram.getValueAtPercentile(99) / 1000, decisions.sum(), degraded.sum());
    System.out.printf(Locale.ROOT, "  %,.0f decisions/s, p50 %d us, p99 %d us, degraded %d%n", result.perSecond(),
        result.p50Micros(), result.p99Micros(), result.degraded());
    return result;
  }

  /** The seed's guard, step for step (G2, G3, G5), with its two sequential reads and no time budget. */
  static final class SeedGuard {
    private final RedisCommands<String, String> redis;
    private final String prefix;

    SeedGuard(RedisCommands<String, String> redis, String prefix) {
      this.redis = redis;
      this.prefix = prefix;
    }

    boolean admit(String userId) {
      if (redis.get(prefix + ":credit_blocked:" + userId) != null) {
        return false;
      }
      String json = redis.get(prefix + ":credit_balance_snapshot:" + userId);
      if (json == null) {
        return true;
      }
      return balance(json) > 0;
    }

    private static long balance(String json) {
      int at = json.indexOf("\"balance\":") + "\"balance\":".length();
      int end = at;
      while (end < json.length() && (Character.isDigit(json.charAt(end)) || json.charAt(end) == '-')) {
        end++;
      }
      return Long.parseLong(json, at, end, 10);
    }
  }

  private static void cleanUp(RedisCommands<String, String> sync, String prefix) {
    List<String> keys = sync.keys(prefix + ":*");
    for (int i = 0; i < keys.size(); i += 1000) {
      sync.del(keys.subList(i, Math.min(keys.size(), i + 1000)).toArray(String[]::new));
    }
  }

  private static String redisBenchmark(RedisURI uri) {
    List<String> command = List.of("redis-benchmark", "-h", uri.getHost(), "-p", Integer.toString(uri.getPort()),
        "-t", "get", "-c", Integer.toString(CALLERS), "-n", "500000", "-q");
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      process.waitFor(60, TimeUnit.SECONDS);
      String[] lines = out.split("[\r\n]+");
      String last = lines[lines.length - 1].trim();
      System.out.println(String.join(" ", command) + " -> " + last);
      return last;
    } catch (IOException | InterruptedException e) {
      return "redis-benchmark not run: " + e;
    }
  }

  private static void print(List<Result> results, String reference, int measureSeconds) {
    Result base = results.get(0);
    Map<String, String> ratios = new HashMap<>();
    for (Result r : results) {
      ratios.put(r.name(), String.format(Locale.ROOT, "%.2fx", r.perSecond() / base.perSecond()));
    }
    System.out.println();
    System.out.printf("| variant (%d callers, %d accounts, %d s) | decisions/s | p50 | p99 | degraded | vs a |%n",
        CALLERS, ACCOUNTS, measureSeconds);
    System.out.println("|---|---:|---:|---:|---:|---:|");
    for (Result r : results) {
      System.out.printf(Locale.ROOT, "| %s | %,.0f | %d us | %d us | %d of %,d | %s |%n", r.name(), r.perSecond(),
          r.p50Micros(), r.p99Micros(), r.degraded(), r.decisions(), ratios.get(r.name()));
    }
    System.out.println("| redis-benchmark -t get -c 64 -q (reference) | " + reference + " | | | | |");
  }
}

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
 * Guard decisions per second against one Redis, side by side in one run, with 64 concurrent callers
 * over 10,000 funded accounts (every decision admits: the common path):
 *
 * <ol type="a">
 *   <li>baseline: the guard of the service Creditgate reproduces (docs/architecture.md), ported
 *       as-is with Lettuce: GET the blocked marker, then GET the JSON snapshot, sequentially,
 *       synchronous calls on one shared connection;
 *   <li>{@link CreditBalanceGuard} on {@link RedisCreditCache}: one MGET per lookup (lookup
 *       batching off), then with its default coalescing of concurrent lookups into shared MGETs;
 *   <li>the same with the near cache on.
 * </ol>
 *
 * Each variant is warmed up, then measured in {@link #ROUNDS} interleaved rounds (a, b0, b, c, a,
 * b0, ...) so that load from elsewhere on the machine falls on all of them alike. It also runs
 * {@code redis-benchmark -t get -c 64 -q} against the same server as the physical reference. Usage
 * (about 70 s):
 *
 * <pre>
 * java -cp creditgate-bench/target/benchmarks.jar dev.creditgate.bench.RedisGuardLoadBenchmark \
 *   [redisUri] [measureSeconds] [warmupSeconds]</pre>
 */
public final class RedisGuardLoadBenchmark {

  static final int CALLERS = 64;
  static final int ACCOUNTS = 10_000;

  /**
   * The baseline (a) has no time budget, so (b) and (c) get one far above any latency seen here:
   * the comparison is about throughput, and a decision the budget turned into a fail-open would be
   * a non-answer. Degraded decisions are counted and left out of decisions/s all the same.
   */
  static final Duration BUDGET = Duration.ofSeconds(1);

  /** The measured time is split into this many rounds of every variant in turn. */
  static final int ROUNDS = 5;

  private RedisGuardLoadBenchmark() {}

  record Result(
      String name,
      double perSecond,
      double p50Micros,
      double p99Micros,
      long decisions,
      long degraded) {}

  public static void main(String[] args) throws Exception {
    String uri =
        args.length > 0
            ? args[0]
            : System.getenv().getOrDefault("CREDITGATE_REDIS_URI", "redis://127.0.0.1:6379");
    int measureSeconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    int warmupSeconds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    String prefix = "cgbench-" + UUID.randomUUID().toString().substring(0, 8);
    String loadBefore = loadAverage();
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
      String twoReadPrefix = prefix + ":smartflow";
      Instant now = Instant.now();
      for (int i = 0; i < ACCOUNTS; i++) {
        // The baseline's snapshot: JSON {"balance":..,"updated_at":..}; no blocked marker for
        // funded accounts.
        sync.set(
            twoReadPrefix + ":credit_balance_snapshot:" + accounts[i],
            "{\"balance\":1000000,\"updated_at\":\"" + now + "\"}");
      }
      TwoReadGuard twoReads = new TwoReadGuard(sync, twoReadPrefix);

      // Filled with a patient budget: the first writes pay for connecting and loading scripts.
      try (RedisCreditCache filler =
          RedisCreditCache.builder(uri).keyPrefix(prefix).timeout(Duration.ofSeconds(5)).build()) {
        fill(filler, accounts, now);
      }
      try (RedisCreditCache single =
              RedisCreditCache.builder(uri)
                  .keyPrefix(prefix)
                  .timeout(BUDGET)
                  .lookupBatching(false)
                  .build();
          CreditBalanceGuard singleGuard =
              CreditBalanceGuard.builder().cache(single).cacheTimeout(BUDGET).build();
          RedisCreditCache plain =
              RedisCreditCache.builder(uri).keyPrefix(prefix).timeout(BUDGET).build();
          CreditBalanceGuard plainGuard =
              CreditBalanceGuard.builder().cache(plain).cacheTimeout(BUDGET).build();
          RedisCreditCache near =
              RedisCreditCache.builder(uri)
                  .keyPrefix(prefix)
                  .timeout(BUDGET)
                  .nearCache(true)
                  .build();
          CreditBalanceGuard nearGuard =
              CreditBalanceGuard.builder().cache(near).cacheTimeout(BUDGET).build()) {
        List<Variant> variants =
            List.of(
                new Variant(
                    "a) two reads: GET marker, GET snapshot", i -> twoReads.admit(accounts[i])),
                new Variant(
                    "b0) guard + RedisCreditCache, one MGET per lookup (batching off)",
                    i -> admitted(singleGuard, contexts[i])),
                new Variant(
                    "b) guard + RedisCreditCache, coalesced MGETs (default)",
                    i -> admitted(plainGuard, contexts[i])),
                new Variant(
                    "c) guard + RedisCreditCache + near cache",
                    i -> admitted(nearGuard, contexts[i])));
        for (Variant variant : variants) {
          System.out.printf("%s: warm-up %d s%n", variant.name, warmupSeconds);
          run(variant, TimeUnit.SECONDS.toNanos(warmupSeconds), false);
        }
        // Interleaved rounds, so a burst of load from elsewhere on the machine hits every variant.
        long slice = TimeUnit.SECONDS.toNanos(measureSeconds) / ROUNDS;
        for (int round = 1; round <= ROUNDS; round++) {
          for (Variant variant : variants) {
            long mgetsBefore = mgetCalls(sync);
            run(variant, slice, true);
            variant.mgets += mgetCalls(sync) - mgetsBefore;
          }
          System.out.printf("round %d of %d done%n", round, ROUNDS);
        }
        for (Variant variant : variants) {
          results.add(variant.result(measureSeconds));
          if (variant.mgets > 0) {
            System.out.printf(
                Locale.ROOT,
                "  %s: %,d MGETs on the server, %.1f decisions per MGET%n",
                variant.name,
                variant.mgets,
                variant.decisions / (double) variant.mgets);
          }
        }
        System.out.println("coalesced: " + plain.stats());
        System.out.println("near cache: " + near.stats());
      }
      cleanUp(sync, prefix);
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    String reference = redisBenchmark(RedisURI.create(uri));
    print(results, reference, measureSeconds);
    System.out.println(
        "load average (1/5/15 min) before: "
            + loadBefore
            + ", after: "
            + loadAverage()
            + ", cores: "
            + Runtime.getRuntime().availableProcessors()
            + ", java "
            + Runtime.version());
  }

  /** The server's MGET count (INFO commandstats), to see how many decisions shared one. */
  private static long mgetCalls(RedisCommands<String, String> sync) {
    for (String line : sync.info("commandstats").split("\r?\n")) {
      if (line.startsWith("cmdstat_mget:")) {
        int at = line.indexOf("calls=") + "calls=".length();
        return Long.parseLong(line, at, line.indexOf(',', at), 10);
      }
    }
    return 0;
  }

  private static String loadAverage() {
    try {
      String[] parts =
          java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).split(" ");
      return parts[0] + " " + parts[1] + " " + parts[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private static void fill(RedisCreditCache cache, String[] accounts, Instant now)
      throws Exception {
    List<java.util.concurrent.CompletableFuture<Boolean>> puts = new ArrayList<>();
    for (String account : accounts) {
      puts.add(
          cache.putSnapshot(
              account, new CreditSnapshot(1_000_000, false, 1, now), Duration.ofHours(1)));
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

  private static boolean admitted(CreditBalanceGuard guard, BillingContext context) {
    Admission admission = guard.check(context);
    return admission.isAdmitted() && !admission.reason().degraded();
  }

  /** One variant's decider and everything measured of it over all rounds. */
  static final class Variant {
    final String name;
    final IntPredicate decide;
    final Histogram histogram = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
    long decisions;
    long degraded;
    long mgets;

    Variant(String name, IntPredicate decide) {
      this.name = name;
      this.decide = decide;
    }

    Result result(int measureSeconds) {
      Result result =
          new Result(
              name,
              (decisions - degraded) / (double) measureSeconds,
              histogram.getValueAtPercentile(50) / 1000.0,
              histogram.getValueAtPercentile(99) / 1000.0,
              decisions,
              degraded);
      System.out.printf(
          Locale.ROOT,
          "%s: %,.0f decisions/s, p50 %.1f us, p99 %.1f us, degraded %d%n",
          name,
          result.perSecond(),
          result.p50Micros(),
          result.p99Micros(),
          result.degraded());
      return result;
    }
  }

  /**
   * {@link #CALLERS} threads call the variant's decider on random accounts for {@code nanos}; when
   * {@code record}, each call's latency goes into its histogram. A decision that returns false was
   * degraded (fail-open) or wrong: it is counted and not included in decisions/s.
   */
  private static void run(Variant variant, long nanos, boolean record) throws InterruptedException {
    long end = System.nanoTime() + nanos;
    LongAdder decisions = new LongAdder();
    LongAdder degraded = new LongAdder();
    CountDownLatch done = new CountDownLatch(CALLERS);
    List<Histogram> perThread = new ArrayList<>();
    for (int t = 0; t < CALLERS; t++) {
      Histogram mine = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
      perThread.add(mine);
      Thread.ofPlatform()
          .name("caller-" + t)
          .start(
              () -> {
                try {
                  ThreadLocalRandom random = ThreadLocalRandom.current();
                  long n = 0;
                  long bad = 0;
                  while (true) {
                    long start = System.nanoTime();
                    if (start >= end) {
                      break;
                    }
                    boolean ok = variant.decide.test(random.nextInt(ACCOUNTS));
                    mine.recordValue(
                        Math.min(System.nanoTime() - start, mine.getHighestTrackableValue()));
                    n++;
                    if (!ok) {
                      bad++;
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
    if (record) {
      for (Histogram h : perThread) {
        variant.histogram.add(h);
      }
      variant.decisions += decisions.sum();
      variant.degraded += degraded.sum();
    }
  }

  /**
   * The baseline guard: a blocked marker denies; else a snapshot with a positive balance admits,
   * one without denies, no snapshot admits. Two sequential reads and no time budget.
   */
  static final class TwoReadGuard {
    private final RedisCommands<String, String> redis;
    private final String prefix;

    TwoReadGuard(RedisCommands<String, String> redis, String prefix) {
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
      while (end < json.length()
          && (Character.isDigit(json.charAt(end)) || json.charAt(end) == '-')) {
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
    List<String> command =
        List.of(
            "redis-benchmark",
            "-h",
            uri.getHost(),
            "-p",
            Integer.toString(uri.getPort()),
            "-t",
            "get",
            "-c",
            Integer.toString(CALLERS),
            "-n",
            "500000",
            "-q");
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
    System.out.printf(
        "| variant (%d callers, %d accounts, %d s) | decisions/s | p50 | p99 | degraded | vs a |%n",
        CALLERS, ACCOUNTS, measureSeconds);
    System.out.println("|---|---:|---:|---:|---:|---:|");
    for (Result r : results) {
      System.out.printf(
          Locale.ROOT,
          "| %s | %,.0f | %.1f us | %.1f us | %d of %,d | %s |%n",
          r.name(),
          r.perSecond(),
          r.p50Micros(),
          r.p99Micros(),
          r.degraded(),
          r.decisions(),
          ratios.get(r.name()));
    }
    System.out.println(
        "| redis-benchmark -t get -c 64 -q (reference) | " + reference + " | | | | |");
  }
}

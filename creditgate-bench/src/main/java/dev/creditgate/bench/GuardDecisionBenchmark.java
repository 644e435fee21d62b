package dev.creditgate.bench;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.InMemoryCreditCache;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The guard's decision on the in-memory cache hit path, admit and deny, next to a plain {@link
 * ConcurrentHashMap#get} over the same number of keys: the floor of any in-process lookup. Run
 * single-threaded and with 2 threads ({@code -t 1}, {@code -t 2}); see BENCHMARKS.md.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public class GuardDecisionBenchmark {

  static final int ACCOUNTS = 10_000;

  CreditBalanceGuard guard;
  BillingContext[] funded;
  BillingContext[] broke;
  String[] keys;
  ConcurrentHashMap<String, CreditSnapshot> map;

  @Setup(Level.Trial)
  public void setUp() {
    InMemoryCreditCache cache = InMemoryCreditCache.create();
    guard = CreditBalanceGuard.builder().cache(cache).build();
    funded = new BillingContext[ACCOUNTS];
    broke = new BillingContext[ACCOUNTS];
    keys = new String[ACCOUNTS];
    map = new ConcurrentHashMap<>();
    Instant now = Instant.now();
    for (int i = 0; i < ACCOUNTS; i++) {
      String rich = "rich-" + i;
      String poor = "poor-" + i;
      CreditSnapshot richSnapshot = new CreditSnapshot(1_000_000, false, 1, now);
      cache.putSnapshot(rich, richSnapshot, Duration.ofHours(1)).join();
      cache.putSnapshot(poor, new CreditSnapshot(0, false, 1, now), Duration.ofHours(1)).join();
      cache.setBlocked(poor, 1, Duration.ofHours(1)).join();
      funded[i] = BillingContext.forAccount(rich).withEventId("evt-" + i).withModelAlias("pro");
      broke[i] = BillingContext.forAccount(poor).withEventId("evt-" + i).withModelAlias("pro");
      keys[i] = rich;
      map.put(rich, richSnapshot);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    guard.close();
  }

  /** Each thread walks the accounts from its own offset. */
  @State(Scope.Thread)
  public static class Cursor {
    int next = (int) (Thread.currentThread().threadId() * 7919 % ACCOUNTS);

    int advance() {
      int i = next;
      next = i + 1 == ACCOUNTS ? 0 : i + 1;
      return i;
    }
  }

  @Benchmark
  public Admission admit(Cursor cursor) {
    return guard.check(funded[cursor.advance()]);
  }

  @Benchmark
  public Admission deny(Cursor cursor) {
    return guard.check(broke[cursor.advance()]);
  }

  @Benchmark
  public CreditSnapshot baselineConcurrentHashMapGet(Cursor cursor) {
    return map.get(keys[cursor.advance()]);
  }
}

package dev.creditgate.bench;

import dev.creditgate.internal.MinuteCounters;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What the admin overview's per-minute counts cost an LLM call: one {@link MinuteCounters#add} (the
 * current minute's bucket, a {@link LongAdder} add), next to a bare {@link LongAdder#increment}
 * (the floor of any lock-free counter) and a bare {@link Clock#millis} (what each add would cost
 * more if it read the clock itself rather than leaving that to {@link MinuteCounters#roll} on a
 * timer). Run with {@code -t 1} and {@code -t 2}; see BENCHMARKS.md.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public class MinuteCountersBenchmark {

  MinuteCounters ring;
  LongAdder adder;
  Clock clock;

  @Setup
  public void setUp() {
    clock = Clock.systemUTC();
    // As wide as the gateway's (CallMinutes: 6 counts and 11 deny reasons).
    ring = new MinuteCounters(17, clock);
    adder = new LongAdder();
  }

  @Benchmark
  public void ringAdd() {
    ring.add(0, 1);
  }

  @Benchmark
  public void baselineLongAdderIncrement() {
    adder.increment();
  }

  @Benchmark
  public long baselineClockMillis() {
    return clock.millis();
  }
}

package dev.creditgate;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.atomic.LongAccumulator;

/**
 * A {@link GuardListener} that counts decisions by reason and sums and maxes their latency;
 * thread-safe and allocation-free per decision. The gateway binds these figures to Micrometer.
 */
public final class GuardStats implements GuardListener {

  private final Map<Admission.Reason, LongAdder> counts = new EnumMap<>(Admission.Reason.class);
  private final LongAdder totalNanos = new LongAdder();
  private final LongAccumulator maxNanos = new LongAccumulator(Math::max, 0);

  public GuardStats() {
    for (Admission.Reason reason : Admission.Reason.values()) {
      counts.put(reason, new LongAdder());
    }
  }

  @Override
  public void onDecision(BillingContext context, Admission admission, long nanos) {
    counts.get(admission.reason()).increment();
    totalNanos.add(nanos);
    maxNanos.accumulate(nanos);
  }

  /** Decisions taken for {@code reason} so far. */
  public long count(Admission.Reason reason) {
    return counts.get(reason).sum();
  }

  /** All decisions taken so far. */
  public long total() {
    long sum = 0;
    for (LongAdder adder : counts.values()) {
      sum += adder.sum();
    }
    return sum;
  }

  /** Time spent deciding, summed over all decisions, in nanoseconds. */
  public long totalNanos() {
    return totalNanos.sum();
  }

  /** The slowest decision so far, in nanoseconds. */
  public long maxNanos() {
    return maxNanos.get();
  }
}

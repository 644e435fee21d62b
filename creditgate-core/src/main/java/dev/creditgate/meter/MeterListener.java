package dev.creditgate.meter;

import dev.creditgate.BillingContext;

/**
 * Told what a {@link CreditMeter} did, for metrics. Called on the caller's thread; implementations
 * must be fast and must not throw.
 */
public interface MeterListener {

  MeterListener NOOP = new MeterListener() {};

  /**
   * A call waited {@code nanos} in {@link MeteredCall#beforeRelay()} for its record to be durable.
   */
  default void onRecordWait(long nanos) {}

  /** A call was settled (charged, queued, spooled, replayed or failed) in {@code nanos}. */
  default void onSettled(BillingContext context, Settlement settlement, long nanos) {}
}

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

  /** A strict meter held {@code credits} for an admitted call. */
  default void onHoldPlaced(BillingContext context, long credits) {}

  /**
   * A hold ended: {@code settled} when its call was charged, otherwise released (the call ended
   * without a charge) or {@code expired} (its deadline passed first).
   */
  default void onHoldEnded(BillingContext context, long credits, HoldEnd end) {}

  /** A call's worst-case cost did not fit: it was clamped to a lower output cap, or refused. */
  default void onShortfall(BillingContext context, boolean clamped) {}

  /** A call was charged {@code credits} beyond its hold (input beyond its counted estimate). */
  default void onOverrun(BillingContext context, long credits) {}

  /**
   * A lease operation of a meter that leases accounts' credit ended: the lease grew, was given
   * back, or the operation failed (the ledger could not be reached).
   */
  default void onLease(LeaseEvent event) {}

  /** What happened to a lease of an account's credit. */
  enum LeaseEvent {
    GROWN,
    GIVEN_BACK,
    RENEWED,
    FAILED
  }

  /** How a hold ended. */
  enum HoldEnd {
    SETTLED,
    RELEASED,
    EXPIRED
  }
}

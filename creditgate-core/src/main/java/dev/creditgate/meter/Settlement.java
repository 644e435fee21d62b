package dev.creditgate.meter;

import java.util.OptionalLong;

/**
 * What a call was charged.
 *
 * @param status what became of the charge
 * @param credits the credits charged (zero when nothing was)
 * @param balanceAfter the account's balance right after the charge, when the ledger wrote it at
 *     once
 * @param source where the charged usage came from
 * @param unpriced whether no price rule matched the call (charged the ledger's fallback for such
 *     calls, 0 without one; counted and logged)
 */
public record Settlement(
    Status status, long credits, OptionalLong balanceAfter, UsageSource source, boolean unpriced) {

  /** The result for a call nothing is charged for (no account, or a key that skips charging). */
  public static final Settlement NOT_METERED =
      new Settlement(Status.NOT_METERED, 0, OptionalLong.empty(), UsageSource.REPORTED, false);

  public enum Status {
    /** Written to the ledger. */
    APPLIED,
    /** The same event id was charged before; the original charge stands. */
    REPLAYED,
    /** Accepted and journaled; the ledger write follows behind the answer. */
    QUEUED,
    /** The ledger's database was away; the charge is in the durable spool and will be replayed. */
    SPOOLED,
    /** The charge failed (logged and counted); nothing was charged. */
    FAILED,
    /** The call is not metered (no account, or a key that skips charging). */
    NOT_METERED,
    /** The call was abandoned before any usage was settled. */
    ABANDONED
  }

  /** The result for a call ended without a charge. */
  public static Settlement abandoned() {
    return new Settlement(Status.ABANDONED, 0, OptionalLong.empty(), UsageSource.REPORTED, false);
  }

  /** A settlement that failed: nothing was charged. */
  public static Settlement failed(UsageSource source) {
    return new Settlement(Status.FAILED, 0, OptionalLong.empty(), source, false);
  }

  public boolean estimated() {
    return source == UsageSource.ESTIMATED;
  }
}

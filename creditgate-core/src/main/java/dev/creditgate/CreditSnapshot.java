package dev.creditgate;

import java.time.Instant;
import java.util.Objects;

/**
 * An account's credit state as the credit store last committed it.
 *
 * @param availableCredit credits the account may spend; may be negative after charges
 * @param blocked whether an operator blocked the account, whatever its balance
 * @param version increases by at least one on every change of the account in the credit store;
 *     caches use it so that an older snapshot never replaces a newer one
 * @param updatedAt when the store committed this state
 */
public record CreditSnapshot(
    long availableCredit, boolean blocked, long version, Instant updatedAt) {

  public CreditSnapshot {
    if (version < 0) {
      throw new IllegalArgumentException("version must be >= 0, but was " + version);
    }
    Objects.requireNonNull(updatedAt, "updatedAt");
  }

  /** Whether the guard may admit a call on this snapshot: not blocked and a positive balance. */
  public boolean canSpend() {
    return !blocked && availableCredit > 0;
  }
}

package dev.creditgate.ledger;

import java.time.Instant;
import java.util.Objects;

/**
 * A slice of an account's credit leased by one process ({@code holder}), which places its calls'
 * holds against it without asking the ledger each time.
 *
 * @param credits the credits leased and not yet consumed by the holder's charges
 * @param expiresAt when the lease ends unless renewed; from then on its credit is free for others
 */
public record Lease(String accountId, String holder, long credits, Instant expiresAt) {

  public Lease {
    Objects.requireNonNull(accountId, "accountId");
    Objects.requireNonNull(holder, "holder");
    Objects.requireNonNull(expiresAt, "expiresAt");
    if (credits < 0) {
      throw new IllegalArgumentException("credits must not be negative, but was " + credits);
    }
  }
}

package dev.creditgate.ledger;

import dev.creditgate.CreditSnapshot;
import java.time.Instant;

/**
 * An account as the ledger holds it.
 *
 * @param version +1 on every change; copied into {@link CreditSnapshot#version()}
 * @param granted credits ever granted (top-ups, rewards)
 * @param consumed credits ever charged
 * @param refunded credits ever refunded
 */
public record Account(
    String id,
    long balance,
    boolean blocked,
    long version,
    long granted,
    long consumed,
    long refunded,
    Instant createdAt,
    Instant updatedAt) {

  /** The state the guard's cache mirrors. */
  public CreditSnapshot snapshot() {
    return new CreditSnapshot(balance, blocked, version, updatedAt);
  }
}

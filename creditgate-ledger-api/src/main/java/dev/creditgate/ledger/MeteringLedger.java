package dev.creditgate.ledger;

import dev.creditgate.PendingDebits;
import java.time.Duration;

/**
 * The ledger's side of metering LLM calls: what a credit meter records calls and charges them
 * through. As a {@link PendingDebits}, it tells the guard about charges it accepted but has not
 * written yet, so an account's own recent calls count at once.
 */
public interface MeteringLedger extends PendingDebits {

  /**
   * Prices and records one call's usage. The balance may go below zero: the call already happened.
   * When the database cannot be written, the charge goes to a durable spool and is replayed later;
   * it is never dropped. A charge queued behind the answer or spooled that meets a charge of its
   * event id with another payload (the same Idempotency-Key served twice at once by two gateways)
   * is charged under an id of its own ({@link ChargeRequest#underOwnId()}), since that call was
   * served too.
   *
   * @throws IdempotencyConflictException when the event id was charged with another payload (the
   *     caller applies the same rule)
   * @throws IllegalArgumentException when the request is not a valid charge (naming the value)
   */
  ChargeResult charge(ChargeRequest request);

  /**
   * Tells the ledger that a call is about to be served, with an estimate of its charge, before its
   * usage is known. The caller charges the call through the returned intent and closes it in every
   * case. A write-behind ledger journals the intent and charges the estimate should the real charge
   * be lost to a power loss; the default records nothing.
   *
   * @throws IllegalArgumentException when the estimate is not a valid charge request
   * @throws LedgerUnavailableException when the intent cannot be recorded
   */
  default ChargeIntent recordIntent(ChargeRequest estimate) {
    return ChargeIntent.direct(this);
  }

  /**
   * Whether the account has an entry with this event id, or a charge with it that the ledger
   * accepted and has not written yet (queued behind the answer, or spooled while its database was
   * away). A caller refusing a reused idempotency key asks this, so a key is refused even while its
   * charge waits.
   *
   * @throws LedgerUnavailableException when nothing is spooled under the id and the database cannot
   *     be read
   */
  boolean eventRecorded(String accountId, String eventId);

  /**
   * Claims an event id for a call about to be served, atomically across every process sharing the
   * ledger: of the callers claiming one id at the same moment, one gets {@link EventClaim#CLAIMED}
   * and the others {@link EventClaim#IN_PROGRESS}; an id already charged is {@link
   * EventClaim#CHARGED}. A caller refusing a reused idempotency key asks this instead of {@link
   * #eventRecorded}, at the same cost. The claim ends when the call is charged (the charge refuses
   * the id from then on), when the caller {@linkplain #releaseEvent releases} it, or after {@code
   * ttl} (a process killed during its call does not block the id for good). The default has no
   * shared claims: {@link #eventRecorded}.
   *
   * @param ttl how long the claim lasts unless released or charged; positive
   * @throws LedgerUnavailableException when the claim cannot be made (the database is away) and
   *     nothing the ledger holds locally says the id was charged; the caller may serve the call
   *     unclaimed, its charge then meets the ledger's unique event id
   * @throws IllegalArgumentException when an argument is not valid (naming it)
   */
  default EventClaim claimEvent(String accountId, String eventId, Duration ttl) {
    return eventRecorded(accountId, eventId) ? EventClaim.CHARGED : EventClaim.CLAIMED;
  }

  /**
   * Ends this process's claim of an event id whose call ended without a charge (refused, or failed
   * before the upstream served it), so the id can be used again at once. The default has no claims.
   *
   * @throws LedgerUnavailableException when the database is away (the claim then expires)
   */
  default void releaseEvent(String accountId, String eventId) {}

  /**
   * Waits, at most {@code timeout}, until every charge of the account that {@link #charge} accepted
   * ({@link ChargeResult.Status#QUEUED}) is in the ledger; true when none is left. For readers that
   * want to see an account's own charges in its entries. The default has nothing queued.
   */
  default boolean awaitCharges(String accountId, Duration timeout) {
    return true;
  }

  /**
   * Whether the ledger can take a charge durably now. False when it could not (its spool for an
   * absent database is full): a meter then refuses metered calls rather than serve calls it could
   * not charge. Without I/O. The default always can.
   */
  default boolean acceptsCharges() {
    return true;
  }

  /** The ledger's health counters, for metrics. */
  LedgerStats stats();
}

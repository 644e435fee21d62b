package dev.creditgate.ledger;

import dev.creditgate.CreditSnapshotProvider;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.util.List;
import java.util.Optional;

/**
 * The credit ledger: the source of truth for balances (SPI implemented by {@code creditgate-ledger}
 * on PostgreSQL and SQLite).
 *
 * <p>Every credit-moving operation takes an event id and is idempotent: the same event id with the
 * same payload returns the original entry and changes nothing; with a different payload it throws
 * {@link IdempotencyConflictException}. After every committed change the guard's cache is brought
 * up to date (versioned write or invalidation), so a top-up or a block takes effect on the next
 * guard call.
 *
 * <p>Bad arguments throw {@link IllegalArgumentException} naming the value and change nothing; an
 * unreachable database throws {@link LedgerUnavailableException} (except {@link #charge}, which
 * spools).
 */
public interface CreditLedger extends CreditSnapshotProvider, AutoCloseable {

  /** Creates the account with a zero balance if it does not exist; returns it either way. */
  Account openAccount(String accountId);

  Optional<Account> account(String accountId);

  /** Accounts ordered by id, after {@code cursor} (null for the first page). */
  Page<Account> accounts(String cursor, int limit);

  /** Adds {@code amount > 0} credits (top-up or reward), creating the account if needed. */
  LedgerEntry grant(String accountId, long amount, String eventId, String actor, String reason);

  /**
   * Prices and records one call's usage. The balance may go below zero: the call already happened.
   * When the database cannot be written, the charge goes to a durable spool and is replayed later;
   * it is never dropped.
   */
  ChargeResult charge(ChargeRequest request);

  /**
   * Tells the ledger that a call is about to be served, with an estimate of its charge, before its
   * usage is known. The caller charges the call through the returned intent and closes it in every
   * case. A write-behind ledger journals the intent and charges the estimate should the real
   * charge be lost to a power loss; the default records nothing.
   *
   * @throws IllegalArgumentException when the estimate is not a valid charge request
   * @throws LedgerUnavailableException when the intent cannot be recorded
   */
  default ChargeIntent intend(ChargeRequest estimate) {
    return ChargeIntent.direct(this);
  }

  /**
   * Waits, at most {@code timeout}, until every charge of the account that {@link #charge}
   * accepted ({@link ChargeResult.Status#QUEUED}) is in the ledger and its cache; true when none
   * is left. A caller about to check the account's credit calls it so that it sees its own
   * charges. The default has nothing queued.
   */
  default boolean awaitCharges(String accountId, java.time.Duration timeout) {
    return true;
  }

  /**
   * What a caller about to check the account's credit waits for: like {@link #awaitCharges}, but
   * returns at once when the account's queued charges cannot change the check's answer, because
   * the account's newest known balance (this ledger's last write, or the cache's snapshot when
   * that is newer, e.g. another gateway's charge) stays positive after all of them. The default
   * waits as {@link #awaitCharges} does.
   */
  default boolean awaitChargesBeforeCheck(String accountId, java.time.Duration timeout) {
    return awaitCharges(accountId, timeout);
  }

  /** Returns up to {@code amount} credits of the charge {@code chargeEventId}; never more than it. */
  LedgerEntry refund(String accountId, String chargeEventId, long amount, String eventId, String actor, String reason);

  /** A signed correction by an operator, with a reason. */
  LedgerEntry adjust(String accountId, long amount, String eventId, String actor, String reason);

  /** Blocks the account: the guard denies it whatever its balance. Recorded as a BLOCK entry. */
  LedgerEntry block(String accountId, String eventId, String actor, String reason);

  LedgerEntry unblock(String accountId, String eventId, String actor, String reason);

  /** The account's entries, newest first, after {@code cursor} (null for the first page). */
  Page<LedgerEntry> entries(String accountId, String cursor, int limit);

  /** The entry recorded under {@code eventId}, if any. */
  Optional<LedgerEntry> entry(String accountId, String eventId);

  /**
   * Whether the account has an entry with this event id, or a charge with it that the ledger
   * accepted and has not written yet (queued behind the answer, or spooled while its database was
   * away). A caller refusing a
   * reused idempotency key asks this, so a key is refused even while its charge waits.
   *
   * @throws LedgerUnavailableException when nothing is spooled under the id and the database cannot be read
   */
  default boolean eventRecorded(String accountId, String eventId) {
    return entry(accountId, eventId).isPresent();
  }

  List<PriceRule> priceRules();

  /** Stores a new rule; its id is assigned. */
  PriceRule createPriceRule(PriceRule rule);

  /** Replaces the rule with {@code rule.id()}. */
  PriceRule updatePriceRule(PriceRule rule);

  /** What {@code usage} costs under the active rules. */
  Quote quote(String scene, String provider, String model, Usage usage);

  /** Checks that balance equals the sum of entries, totals agree and the version is consistent. */
  VerifyResult verify(String accountId);

  /** {@link #verify} for every account; returns the inconsistent ones. */
  List<VerifyResult> verifyAll();

  @Override
  void close();
}

package dev.creditgate.ledger;

import dev.creditgate.CreditSnapshotProvider;
import java.util.Optional;

/**
 * The credit ledger's accounts and credit operations: the source of truth for balances (SPI
 * implemented by {@code creditgate-ledger} on PostgreSQL and SQLite). Its other roles are separate
 * interfaces: {@link MeteringLedger} (what a credit meter charges calls through), {@link PriceBook}
 * (price rules) and {@link LedgerAudit} (verification).
 *
 * <p>Every credit-moving operation takes an event id and is idempotent: the same event id with the
 * same payload returns the original entry and changes nothing; with a different payload it throws
 * {@link IdempotencyConflictException}. After every committed change the guard's cache is brought
 * up to date through its {@link LedgerCommitListener}, so a top-up or a block takes effect on the
 * next guard call.
 *
 * <p>Bad arguments throw {@link IllegalArgumentException} naming the value and change nothing; an
 * unreachable database throws {@link LedgerUnavailableException}.
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
   * Returns up to {@code amount} credits of the charge {@code chargeEventId}; never more than it.
   */
  LedgerEntry refund(
      String accountId,
      String chargeEventId,
      long amount,
      String eventId,
      String actor,
      String reason);

  /** A signed correction by an operator, with a reason. */
  LedgerEntry adjust(String accountId, long amount, String eventId, String actor, String reason);

  /** Blocks the account: the guard denies it whatever its balance. Recorded as a BLOCK entry. */
  LedgerEntry block(String accountId, String eventId, String actor, String reason);

  LedgerEntry unblock(String accountId, String eventId, String actor, String reason);

  /** The account's entries, newest first, after {@code cursor} (null for the first page). */
  Page<LedgerEntry> entries(String accountId, String cursor, int limit);

  /** The entry recorded under {@code eventId}, if any. */
  Optional<LedgerEntry> entry(String accountId, String eventId);

  @Override
  void close();
}

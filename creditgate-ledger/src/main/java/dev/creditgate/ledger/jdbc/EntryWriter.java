package dev.creditgate.ledger.jdbc;

import dev.creditgate.CreditSnapshot;
import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.IdempotencyConflictException;
import dev.creditgate.ledger.LedgerEntry;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes one operation's entry in a transaction of its own: locks the account row (creating it if
 * asked), answers a repeated event id with the stored entry (or a conflict when the payload
 * differs), checks a refund against its charge, and updates the account guarded by its version.
 * After the commit, the commit notifier is told the account's new state.
 */
final class EntryWriter {

  /** How often an operation is tried again when a concurrent insert of the same key won. */
  private static final int UNIQUE_RACE_ATTEMPTS = 3;

  private final LedgerDatabase db;
  private final LedgerTables tables;
  private final CommitNotifier notifier;
  private final JdbcLeases leases;

  EntryWriter(LedgerDatabase db, LedgerTables tables, CommitNotifier notifier, JdbcLeases leases) {
    this.db = db;
    this.tables = tables;
    this.notifier = notifier;
    this.leases = leases;
  }

  /**
   * Writes {@code draft} under {@code eventId}, retrying when a concurrent insert of the same key
   * won. {@code carried} are the queued charges this write commits (at most the one it writes).
   */
  EntryOutcome write(
      String accountId,
      String eventId,
      boolean create,
      EntryDraft draft,
      List<PendingCharge> carried) {
    return commit(
        accountId,
        eventId,
        carried,
        (c, leased) -> writeIn(c, accountId, eventId, create, draft, leased));
  }

  /** One entry's transaction: writes it and collects the lease rows it changed. */
  private interface Body {
    EntryOutcome writeIn(Connection c, List<LeaseTable.Row> leased) throws SQLException;
  }

  private EntryOutcome commit(
      String accountId, String eventId, List<PendingCharge> carried, Body body) {
    for (int attempt = 1; ; attempt++) {
      try {
        List<LeaseTable.Row> leased = new ArrayList<>();
        EntryOutcome outcome = db.transaction(c -> body.writeIn(c, leased));
        // Also on a replay: the first attempt may have committed without its listener being told
        // (a lost commit acknowledgement, a spooled charge already applied). States are versioned,
        // so a repeat is harmless.
        Map<String, CreditSnapshot> states = Map.of(accountId, outcome.account().snapshot());
        leases.committed(leased, () -> notifier.uncount(states, carried));
        notifier.tell(states);
        return outcome;
      } catch (LedgerDatabase.UniqueRace race) {
        if (attempt >= UNIQUE_RACE_ATTEMPTS) {
          throw new IllegalStateException(
              "event id '"
                  + eventId
                  + "' of account '"
                  + accountId
                  + "' kept colliding with concurrent inserts",
              race.getCause());
        }
      }
    }
  }

  /**
   * Writes a replayed charge whose call {@code leaseHolder} held against its lease (a charge
   * spooled or journaled before its commit, or the recovered estimate of a call a dead process had
   * in flight): in the same transaction the charge takes its credit out of that lease, and what the
   * lease no longer covers is recorded in the entry's metadata as {@code "overrun"}. A repeat of a
   * recovered estimate already written (a replay interrupted after its commit) answers the stored
   * entry.
   */
  EntryOutcome writeHeld(ChargeRequest request, EntryDraft draft, String leaseHolder) {
    return commit(
        request.accountId(),
        request.eventId(),
        List.of(),
        (c, leased) -> writeHeldIn(c, request, draft, leaseHolder, leased));
  }

  private EntryOutcome writeHeldIn(
      Connection c,
      ChargeRequest request,
      EntryDraft draft,
      String leaseHolder,
      List<LeaseTable.Row> leased)
      throws SQLException {
    Instant now = db.now();
    String accountId = request.accountId();
    Account account = tables.lockAccount(c, accountId, true, now);
    EntryRow existing = tables.findEntry(c, accountId, request.eventId());
    if (existing != null) {
      if (JournalRecovery.isRecoveredEstimate(request)
          && existing
              .entry()
              .metadata()
              .startsWith("{" + JournalRecovery.RECOVERED_ESTIMATE_FIELD)) {
        return new EntryOutcome(existing.entry(), account, true);
      }
      return stored(existing, draft, account, accountId, request.eventId());
    }
    long[] uncovered =
        leases.coverIn(
            c, accountId, List.of(new JdbcLeases.Held(leaseHolder, -draft.amount())), now, leased);
    EntryDraft written = draft.withOverrun(uncovered[0]);
    Account updated = written.applyTo(account, now);
    tables.updateAccounts(c, Map.of(accountId, account), List.of(updated));
    LedgerEntry entry =
        tables.insertEntry(c, accountId, request.eventId(), written, updated.balance(), now);
    return new EntryOutcome(entry, updated, false);
  }

  private EntryOutcome writeIn(
      Connection c,
      String accountId,
      String eventId,
      boolean create,
      EntryDraft draft,
      List<LeaseTable.Row> leased)
      throws SQLException {
    Instant now = db.now();
    Account account = tables.lockAccount(c, accountId, create, now);
    EntryRow existing = tables.findEntry(c, accountId, eventId);
    if (existing != null) {
      return stored(existing, draft, account, accountId, eventId);
    }
    if (draft.kind() == EntryKind.REFUND) {
      checkRefund(c, accountId, draft);
    }
    Account updated = draft.applyTo(account, now);
    tables.updateAccounts(c, Map.of(accountId, account), List.of(updated));
    LedgerEntry entry = tables.insertEntry(c, accountId, eventId, draft, updated.balance(), now);
    if (draft.kind() == EntryKind.CHARGE && draft.amount() < 0) {
      leased.addAll(leases.consumeIn(c, Map.of(accountId, -draft.amount()), now));
    } else if (draft.kind() == EntryKind.ADJUSTMENT && draft.amount() < 0) {
      leased.addAll(leases.revokeIn(c, accountId));
    }
    return new EntryOutcome(entry, updated, false);
  }

  /**
   * The answer to an operation whose event id is stored already: the stored entry, as a replay.
   *
   * @throws IdempotencyConflictException when the stored entry is another operation
   */
  private static EntryOutcome stored(
      EntryRow existing, EntryDraft draft, Account account, String accountId, String eventId) {
    String difference = draft.differenceFrom(existing);
    if (difference != null) {
      throw new IdempotencyConflictException(accountId, eventId, difference);
    }
    return new EntryOutcome(existing.entry(), account, true);
  }

  /** A refund returns at most what its charge cost and earlier refunds of it did not return. */
  private void checkRefund(Connection c, String accountId, EntryDraft refund) throws SQLException {
    EntryRow charge = tables.findEntry(c, accountId, refund.refEventId());
    if (charge == null || charge.entry().kind() != EntryKind.CHARGE) {
      throw new IllegalArgumentException(
          "chargeEventId '"
              + refund.refEventId()
              + "' is not a charge of account '"
              + accountId
              + "'");
    }
    long charged = -charge.entry().amount();
    long refundedSoFar = tables.refundedSoFar(c, accountId, refund.refEventId());
    long refundable = charged - refundedSoFar;
    if (refund.amount() > refundable) {
      throw new IllegalArgumentException(
          "refund amount "
              + refund.amount()
              + " exceeds the "
              + refundable
              + " credits of charge '"
              + refund.refEventId()
              + "' not yet refunded (charged "
              + charged
              + ", refunded "
              + refundedSoFar
              + ")");
    }
  }
}

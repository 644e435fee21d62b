package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.IdempotencyConflictException;
import dev.creditgate.ledger.LedgerEntry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a batch of charges (of any accounts) in one transaction with a fixed number of statements
 * whatever its size: lock the accounts (creating the missing ones), read the entries of their event
 * ids when replays are expected, compute every new state in memory, then one batched update and one
 * batched insert.
 *
 * <p>Nearly every charge is new, so its entry is inserted without looking first; an insert that
 * meets a stored entry rolls the batch back, and the batch is written again looking first. Once a
 * batch that looked found nothing, later batches stop looking.
 */
final class BatchWriter {

  private final LedgerDatabase db;
  private final LedgerTables tables;
  private final JdbcLeases leases;

  /**
   * Whether a batch reads its charges' stored entries before writing: replays meet their entries,
   * new charges do not.
   */
  private volatile boolean lookUpStoredFirst;

  BatchWriter(LedgerDatabase db, LedgerTables tables, JdbcLeases leases) {
    this.db = db;
    this.tables = tables;
    this.leases = leases;
  }

  /**
   * A batch's entry was already stored: the batch is rolled back and written again, looking first.
   */
  private static final class EntryAlreadyStored extends RuntimeException {
    private static final long serialVersionUID = 1L;

    EntryAlreadyStored() {
      super("an entry of the batch was already stored", null, false, false);
    }
  }

  /** An entry the batch inserts, and the place of its charge in the batch. */
  private record NewEntry(
      int index, String accountId, String eventId, EntryDraft draft, long balanceAfter) {}

  /**
   * A written batch: one outcome per charge, in order, and the lease rows its transaction changed
   * (for {@link #committed}).
   */
  record Written(List<BatchOutcome> outcomes, List<LeaseTable.Row> leased) {}

  /**
   * Writes the charges, sorted by account (so two batches lock accounts in the same order and never
   * deadlock), in one transaction.
   */
  Written write(List<PendingCharge> ordered) {
    List<LeaseTable.Row> leased = new ArrayList<>();
    List<BatchOutcome> outcomes;
    try {
      boolean lookFirst = lookUpStoredFirst;
      outcomes = db.transaction(c -> writeIn(c, ordered, lookFirst, leased));
    } catch (EntryAlreadyStored e) {
      // A replay (or a repeated idempotency key): write the batch again, reading its stored entries
      // first.
      lookUpStoredFirst = true;
      leased.clear();
      outcomes = db.transaction(c -> writeIn(c, ordered, true, leased));
    }
    return new Written(outcomes, leased);
  }

  /**
   * After the commit of a batch: this process learns its lease rows and runs {@code uncount}, which
   * takes the written charges out of the pending ones, as one change for a room read.
   */
  void committed(Written written, Runnable uncount) {
    leases.committed(written.leased(), uncount);
  }

  private List<BatchOutcome> writeIn(
      Connection c, List<PendingCharge> ordered, boolean lookFirst, List<LeaseTable.Row> leased)
      throws SQLException {
    Instant now = db.now();
    List<String> ids = ordered.stream().map(PendingCharge::accountId).distinct().toList();
    Map<String, Account> original = tables.lockAccounts(c, ids);
    if (original.size() < ids.size()) {
      List<String> missing = ids.stream().filter(id -> !original.containsKey(id)).toList();
      tables.insertAccounts(c, missing, now);
      original.putAll(tables.lockAccounts(c, missing));
    }
    Map<String, EntryRow> stored = lookFirst ? storedEntries(c, ordered) : new HashMap<>();
    Map<String, Account> current = new HashMap<>(original);
    // Which charge of the batch inserts each key, so a repeat within the batch points at it.
    Map<String, Integer> insertedBy = new HashMap<>();
    BatchOutcome[] outcomes = new BatchOutcome[ordered.size()];
    int[] repeats = new int[ordered.size()];
    Arrays.fill(repeats, -1);
    List<NewEntry> inserts = new ArrayList<>();
    for (int i = 0; i < ordered.size(); i++) {
      PendingCharge p = ordered.get(i);
      String accountId = p.accountId();
      String eventId = p.request().eventId();
      String key = LedgerTables.key(accountId, eventId);
      EntryDraft draft = EntryDraft.charge(p.request(), p.quote());
      Account account = current.get(accountId);
      EntryRow existing = stored.get(key);
      if (existing != null) {
        String difference = draft.differenceFrom(existing);
        Integer first = insertedBy.get(key);
        if (difference != null) {
          outcomes[i] =
              new BatchOutcome.Refused(
                  new IdempotencyConflictException(accountId, eventId, difference));
        } else if (first != null) {
          repeats[i] = first;
        } else {
          outcomes[i] = new BatchOutcome.Written(new EntryOutcome(existing.entry(), account, true));
        }
        continue;
      }
      Account updated;
      try {
        updated = draft.applyTo(account, now);
      } catch (IllegalArgumentException e) {
        outcomes[i] = new BatchOutcome.Refused(e);
        continue;
      }
      current.put(accountId, updated);
      inserts.add(new NewEntry(i, accountId, eventId, draft, updated.balance()));
      insertedBy.put(key, i);
      stored.put(
          key,
          new EntryRow(
              draft.toEntry(0, accountId, eventId, updated.balance(), now),
              draft.provider(),
              null));
    }
    if (inserts.isEmpty()) {
      return List.of(outcomes);
    }
    List<Account> changed =
        ids.stream()
            .map(current::get)
            .filter(after -> after.version() != original.get(after.id()).version())
            .toList();
    tables.updateAccounts(c, original, changed);
    boolean replaysHeld =
        inserts.stream().anyMatch(insert -> !ordered.get(insert.index()).leaseHolder().isEmpty());
    if (replaysHeld) {
      inserts = cover(c, ordered, inserts, now, leased);
    }
    long[] entryIds = insertEntries(c, inserts, now);
    if (!replaysHeld) {
      Map<String, Long> debits = new HashMap<>();
      for (NewEntry insert : inserts) {
        debits.merge(insert.accountId(), -insert.draft().amount(), Math::addExact);
      }
      leased.addAll(leases.consumeIn(c, debits, now));
    }
    for (int n = 0; n < inserts.size(); n++) {
      NewEntry insert = inserts.get(n);
      LedgerEntry entry =
          insert
              .draft()
              .toEntry(
                  entryIds[n], insert.accountId(), insert.eventId(), insert.balanceAfter(), now);
      outcomes[insert.index()] =
          new BatchOutcome.Written(new EntryOutcome(entry, current.get(insert.accountId()), false));
    }
    for (int i = 0; i < repeats.length; i++) {
      if (repeats[i] >= 0) {
        LedgerEntry first = ((BatchOutcome.Written) outcomes[repeats[i]]).outcome().entry();
        outcomes[i] =
            new BatchOutcome.Written(new EntryOutcome(first, current.get(first.accountId()), true));
      }
    }
    return List.of(outcomes);
  }

  /**
   * Takes the debits of a batch with replayed charges out of the leases that held their calls,
   * account by account in account order (the order in which every lease statement locks rows): a
   * replayed charge out of the lease of its holder, its entry recording what that lease did not
   * cover as overrun; a charge of this process's calls now out of this process's lease, as {@link
   * JdbcLeases#consumeIn} takes it. Returns the entries to insert.
   */
  private List<NewEntry> cover(
      Connection c,
      List<PendingCharge> ordered,
      List<NewEntry> inserts,
      Instant now,
      List<LeaseTable.Row> leased)
      throws SQLException {
    Map<String, List<Integer>> byAccount = new TreeMap<>();
    for (int n = 0; n < inserts.size(); n++) {
      byAccount.computeIfAbsent(inserts.get(n).accountId(), id -> new ArrayList<>()).add(n);
    }
    List<NewEntry> covered = new ArrayList<>(inserts);
    for (Map.Entry<String, List<Integer>> account : byAccount.entrySet()) {
      String own = leases.leaseHolder(account.getKey());
      List<JdbcLeases.Held> charges = new ArrayList<>();
      List<Integer> which = new ArrayList<>();
      for (int n : account.getValue()) {
        NewEntry insert = inserts.get(n);
        String holder = ordered.get(insert.index()).leaseHolder();
        String by = holder.isEmpty() ? own : holder;
        if (!by.isEmpty()) {
          charges.add(new JdbcLeases.Held(by, -insert.draft().amount()));
          which.add(n);
        }
      }
      if (charges.isEmpty()) {
        continue;
      }
      long[] uncovered = leases.coverIn(c, account.getKey(), charges, now, leased);
      for (int k = 0; k < which.size(); k++) {
        NewEntry insert = inserts.get(which.get(k));
        if (!ordered.get(insert.index()).leaseHolder().isEmpty()) {
          covered.set(
              which.get(k),
              new NewEntry(
                  insert.index(),
                  insert.accountId(),
                  insert.eventId(),
                  insert.draft().withOverrun(uncovered[k]),
                  insert.balanceAfter()));
        }
      }
    }
    return covered;
  }

  private Map<String, EntryRow> storedEntries(Connection c, List<PendingCharge> charges)
      throws SQLException {
    List<String> accounts = charges.stream().map(PendingCharge::accountId).distinct().toList();
    List<String> events = charges.stream().map(p -> p.request().eventId()).distinct().toList();
    Set<String> keys = new HashSet<>();
    for (PendingCharge p : charges) {
      keys.add(LedgerTables.key(p.accountId(), p.request().eventId()));
    }
    Map<String, EntryRow> found = tables.findEntries(c, accounts, events, keys);
    if (found.isEmpty()) {
      lookUpStoredFirst = false;
    }
    return found;
  }

  /**
   * Inserts the entries and returns their ids: one pipelined batch on PostgreSQL, a loop in-process
   * on SQLite.
   *
   * @throws EntryAlreadyStored when an entry with the same account and event id exists (nothing of
   *     the batch may then be committed)
   */
  private long[] insertEntries(Connection c, List<NewEntry> inserts, Instant now)
      throws SQLException {
    long[] ids = new long[inserts.size()];
    if (db.dialect() == Dialect.POSTGRESQL) {
      try (PreparedStatement s =
          c.prepareStatement(LedgerTables.INSERT_NEW_ENTRY, new String[] {"id"})) {
        for (NewEntry insert : inserts) {
          tables.bindEntry(
              s, insert.accountId(), insert.eventId(), insert.draft(), insert.balanceAfter(), now);
          s.addBatch();
        }
        s.executeBatch();
        try (ResultSet keys = s.getGeneratedKeys()) {
          for (int i = 0; i < ids.length; i++) {
            if (!keys.next()) {
              throw new EntryAlreadyStored();
            }
            ids[i] = keys.getLong(1);
          }
        }
      }
      return ids;
    }
    try (PreparedStatement s = db.prepare(c, LedgerTables.INSERT_NEW_ENTRY + " RETURNING id")) {
      for (int i = 0; i < ids.length; i++) {
        NewEntry insert = inserts.get(i);
        tables.bindEntry(
            s, insert.accountId(), insert.eventId(), insert.draft(), insert.balanceAfter(), now);
        try (ResultSet rows = s.executeQuery()) {
          if (!rows.next()) {
            throw new EntryAlreadyStored();
          }
          ids[i] = rows.getLong(1);
        }
      }
    }
    return ids;
  }
}

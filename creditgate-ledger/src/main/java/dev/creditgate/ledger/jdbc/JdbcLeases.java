package dev.creditgate.ledger.jdbc;

import dev.creditgate.Checks;
import dev.creditgate.internal.Saturating;
import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.CreditLeases;
import dev.creditgate.ledger.Lease;
import dev.creditgate.ledger.LedgerChecks;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.StampedLock;

/**
 * This process's leases of accounts' credit ({@link CreditLeases}): the atomic lease operations in
 * the database, and what the process knows of its own leases, kept in step with every commit that
 * changes them.
 *
 * <p>The charges this ledger commits consume its lease in the same transaction ({@link #consumeIn},
 * called under the accounts' locks). After the commit, what the process knows of its lease and the
 * committed charges' leaving the pending ones change together ({@link #committed}), so a {@link
 * #leaseRoom} read counts each charge once: in the lease or as pending. A growth that finds in its
 * row a batch's debits this process has not learnt yet waits (bounded) to learn them first, and so
 * does a renewal. A charge can still count twice for a moment, erring low (never high), while it
 * moves from the queue to the spool.
 */
final class JdbcLeases {

  /** Rows expired this long ago are in no process's memory any more and are deleted. */
  private static final Duration PURGE_AFTER = Duration.ofHours(1);

  /** The longest a lease operation waits to learn the commits its row shows (see awaitLearnt). */
  private static final long LEARN_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  private static final long LEARN_POLL_NANOS = TimeUnit.MICROSECONDS.toNanos(100);

  /**
   * What this process knows of its lease on one account. A placeholder ({@code version} 0) is put
   * before the first lease operation, so that commits consume the lease from the moment it exists.
   */
  private record Known(long credits, long version, Instant expiresAt, Instant usableUntil) {}

  private final LedgerDatabase db;
  private final LedgerTables tables;
  private final LeaseTable rows;
  private final WriteBehindQueue queue;
  private final ChargeSpool spool;
  private final Clock clock;
  private final String holder;
  private final ConcurrentHashMap<String, Known> known = new ConcurrentHashMap<>();

  /**
   * Written while a commit's effects are applied (its lease rows learnt, then its charges taken out
   * of the pending ones); a room read validates against it, and waits only when it met a commit
   * half applied.
   */
  private final StampedLock effects = new StampedLock();

  JdbcLeases(
      LedgerDatabase db,
      LedgerTables tables,
      WriteBehindQueue queue,
      ChargeSpool spool,
      Clock clock,
      String holder) {
    this.db = db;
    this.tables = tables;
    this.rows = new LeaseTable(db);
    this.queue = queue;
    this.spool = spool;
    this.clock = clock;
    this.holder = Objects.requireNonNull(holder, "holder");
  }

  String holder() {
    return holder;
  }

  /** An extend's outcome: the lease after it, and the credits it grew by. */
  record Extended(Lease lease, long granted) {}

  Extended extend(String accountId, long needed, long wanted, long overdraft, Duration term) {
    Checks.requireBetween("needed", needed, 0, LedgerChecks.MAX_AMOUNT);
    Checks.requireBetween("wanted", wanted, needed, LedgerChecks.MAX_AMOUNT);
    Checks.requireBetween("overdraft", overdraft, 0, LedgerChecks.MAX_AMOUNT);
    requireTerm(term);
    register(accountId);
    Grown grown =
        db.transaction(
            c -> {
              Instant now = db.now();
              Account account = tables.lockAccount(c, accountId, false, now);
              long others = 0;
              LeaseTable.Row own = null;
              Instant purgeBefore = now.minus(PURGE_AFTER);
              boolean longDead = false;
              for (LeaseTable.Row row : rows.lockRows(c, accountId)) {
                longDead |= row.expiresAt().isBefore(purgeBefore);
                if (row.holder().equals(holder)) {
                  own = row;
                } else if (row.liveAt(now)) {
                  others = Saturating.add(others, row.credits());
                } else if (row.credits() > 0) {
                  // Expired: its credit is free now, and stays free should its holder renew late.
                  rows.put(
                      c,
                      new LeaseTable.Row(
                          accountId, row.holder(), 0, row.version() + 1, row.expiresAt()));
                }
              }
              long owned = own != null && own.liveAt(now) ? own.credits() : 0;
              long free =
                  Saturating.add(account.balance(), overdraft - Saturating.add(others, owned));
              long grant = Math.max(0, Math.min(needed, free));
              // Beyond what is needed, at most half of what is left free: a scarce account's other
              // holders find credit too.
              grant += Math.min(wanted - needed, Math.max(0, free - grant) / 2);
              LeaseTable.Row next =
                  new LeaseTable.Row(
                      accountId,
                      holder,
                      owned + grant,
                      nextVersion(accountId, own),
                      now.plus(term));
              rows.put(c, next);
              if (longDead) {
                // A statement only when there is something to delete: most extends find none.
                rows.purge(c, accountId, purgeBefore);
              }
              return new Grown(next, grant, own == null ? 0 : own.version());
            });
    // The row found may hold a charge batch's debits whose commit this process has not finished
    // learning (its charges still count as unwritten): learnt first, the room would count them
    // twice.
    awaitLearnt(accountId, grown.foundVersion());
    apply(grown.row(), term);
    return new Extended(lease(grown.row()), grown.granted());
  }

  /**
   * A growth's transaction: the row it wrote, the credits it granted, and the version of this
   * process's row it found (0 for none).
   */
  private record Grown(LeaseTable.Row row, long granted, long foundVersion) {}

  void trim(String accountId, long keep, Duration term) {
    Checks.requireBetween("keep", keep, 0, Long.MAX_VALUE);
    requireTerm(term);
    if (!known.containsKey(accountId)) {
      return;
    }
    // Read before the transaction: a charge written meanwhile was counted here and is taken out of
    // the lease by its commit, so the lease kept only errs on the large side.
    long unwritten = unwritten(accountId);
    LeaseTable.Row after =
        db.transaction(
            c -> {
              Instant now = db.now();
              tables.lockAccount(c, accountId, false, now);
              for (LeaseTable.Row row : rows.lockRows(c, accountId)) {
                if (row.holder().equals(holder) && row.liveAt(now)) {
                  long credits = Math.min(row.credits(), Saturating.add(unwritten, keep));
                  LeaseTable.Row next =
                      new LeaseTable.Row(
                          accountId, holder, credits, row.version() + 1, now.plus(term));
                  rows.put(c, next);
                  return next;
                }
              }
              return null;
            });
    if (after != null) {
      apply(after, term);
    }
  }

  void renew(Duration term) {
    requireTerm(term);
    if (known.isEmpty()) {
      return;
    }
    Instant[] at = new Instant[1];
    List<LeaseTable.Row> renewed =
        db.transaction(
            c -> {
              Instant now = db.now();
              at[0] = now;
              return rows.renew(c, holder, now, now.plus(term));
            });
    for (LeaseTable.Row row : renewed) {
      // As for a growth: the row may show a batch's debits not learnt yet (a renewal adds 1 to the
      // version).
      awaitLearnt(row.accountId(), row.version() - 1);
      apply(row, term);
    }
    // Forget leases long expired (never a placeholder of a lease operation in flight).
    Instant forget = at[0].minus(PURGE_AFTER);
    known.values().removeIf(k -> k.expiresAt().isBefore(forget));
  }

  /**
   * This process's holder name when it leases the account's credit (its holds on the account are
   * placed against a lease), else {@code ""}.
   */
  String leaseHolder(String accountId) {
    return known.containsKey(accountId) ? holder : "";
  }

  /** A charge's debit and the holder whose lease held its call. */
  record Held(String holder, long debit) {}

  /**
   * In a transaction that writes charges of one account held against leases, under the account's
   * lock: takes each charge's debit, in order, out of the live lease of the holder that held its
   * call. Returns per charge the credits that lease did not cover (it expired, or holds less than
   * the charge): credit that others may have leased meanwhile. The rows changed go to {@code
   * changed}, for {@link #committed}.
   */
  long[] coverIn(
      Connection c, String accountId, List<Held> charges, Instant now, List<LeaseTable.Row> changed)
      throws SQLException {
    Map<String, LeaseTable.Row> live = new HashMap<>();
    for (LeaseTable.Row row : rows.lockRows(c, accountId)) {
      if (row.liveAt(now)) {
        live.put(row.holder(), row);
      }
    }
    Map<String, Long> left = new TreeMap<>();
    long[] uncovered = new long[charges.size()];
    for (int i = 0; i < charges.size(); i++) {
      Held charge = charges.get(i);
      LeaseTable.Row row = live.get(charge.holder());
      long room = row == null ? 0 : left.getOrDefault(charge.holder(), row.credits());
      long covered = Math.min(room, charge.debit());
      uncovered[i] = charge.debit() - covered;
      if (row != null) {
        left.put(charge.holder(), room - covered);
      }
    }
    for (Map.Entry<String, Long> rest : left.entrySet()) {
      LeaseTable.Row row = live.get(rest.getKey());
      if (rest.getValue() != row.credits()) {
        LeaseTable.Row next =
            new LeaseTable.Row(
                accountId, row.holder(), rest.getValue(), row.version() + 1, row.expiresAt());
        rows.put(c, next);
        changed.add(next);
      }
    }
    return uncovered;
  }

  long leaseRoom(String accountId) {
    long stamp = effects.tryOptimisticRead();
    long room = roomNow(accountId);
    if (effects.validate(stamp)) {
      return room;
    }
    stamp = effects.readLock();
    try {
      return roomNow(accountId);
    } finally {
      effects.unlockRead(stamp);
    }
  }

  private long roomNow(String accountId) {
    long unwritten = unwritten(accountId);
    Known k = known.get(accountId);
    long credits = k != null && clock.instant().isBefore(k.usableUntil()) ? k.credits() : 0;
    return credits - unwritten;
  }

  List<Lease> leases(String accountId) {
    return db.read(c -> rows.liveRows(c, accountId, db.now())).stream()
        .map(JdbcLeases::lease)
        .toList();
  }

  /**
   * In a transaction that writes charges, under their accounts' locks: takes each account's debit
   * ({@code debits}, credits by account) out of this process's lease on it. Returns the rows to
   * {@link #committed} once the transaction committed.
   */
  List<LeaseTable.Row> consumeIn(Connection c, Map<String, Long> debits, Instant now)
      throws SQLException {
    // In account order, as renew locks the rows: two transactions never wait on each other's rows.
    Map<String, Long> leased = new TreeMap<>();
    debits.forEach(
        (accountId, credits) -> {
          if (credits > 0 && known.containsKey(accountId)) {
            leased.put(accountId, credits);
          }
        });
    return leased.isEmpty() ? List.of() : rows.consume(c, holder, leased, now);
  }

  /**
   * In a transaction that takes credit away from an account by hand: ends every lease on it, so
   * that its holders lease again from what is left. Returns the rows for {@link #committed}.
   */
  List<LeaseTable.Row> revokeIn(Connection c, String accountId) throws SQLException {
    return rows.revoke(c, accountId);
  }

  /**
   * After the commit of {@link #consumeIn} or {@link #revokeIn}: learns this process's rows, then
   * runs {@code uncount}, which takes the committed charges out of the pending ones; a room read
   * sees both changes or neither.
   */
  void committed(List<LeaseTable.Row> changed, Runnable uncount) {
    long stamp = effects.writeLock();
    try {
      for (LeaseTable.Row row : changed) {
        if (row.holder().equals(holder)) {
          apply(row, null);
        }
      }
      uncount.run();
    } finally {
      effects.unlockWrite(stamp);
    }
  }

  /**
   * Waits, at most {@link #LEARN_WAIT_NANOS}, until this process knows its row of the account at
   * {@code version} or later. Commits are learnt microseconds after they end; a row changed by
   * another process (expired, or ended by an operator's debit) is never learnt, and the wait then
   * ends at its bound.
   */
  private void awaitLearnt(String accountId, long version) {
    long deadline = System.nanoTime() + LEARN_WAIT_NANOS;
    while (knownVersion(accountId) < version && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(LEARN_POLL_NANOS);
    }
  }

  private long knownVersion(String accountId) {
    Known k = known.get(accountId);
    return k == null ? 0 : k.version();
  }

  private void register(String accountId) {
    Instant now = clock.instant();
    known.putIfAbsent(accountId, new Known(0, 0, now, Instant.EPOCH));
  }

  /** The next version of this process's row: above the stored one and above what it knows. */
  private long nextVersion(String accountId, LeaseTable.Row own) {
    Known k = known.get(accountId);
    long version = Math.max(own == null ? 0 : own.version(), k == null ? 0 : k.version());
    return version + 1;
  }

  /**
   * Learns a row of this process's lease, unless a newer one is known. {@code term} is the term a
   * renewal granted ({@code null} when the expiry did not move): the lease is usable until a share
   * of it before the expiry.
   */
  private void apply(LeaseTable.Row row, Duration term) {
    known.compute(
        row.accountId(),
        (id, old) -> {
          if (old != null && old.version() >= row.version()) {
            return old;
          }
          Instant usable;
          if (old != null && old.expiresAt().equals(row.expiresAt())) {
            usable = old.usableUntil();
          } else if (term != null) {
            usable = row.expiresAt().minus(term.dividedBy(CreditLeases.SAFETY_MARGIN_DIVISOR));
          } else {
            // An expiry learnt from elsewhere: the safety margin of the last renewal, or none.
            usable =
                old == null
                    ? Instant.EPOCH
                    : row.expiresAt().minus(Duration.between(old.usableUntil(), old.expiresAt()));
          }
          return new Known(row.credits(), row.version(), row.expiresAt(), usable);
        });
  }

  private long unwritten(String accountId) {
    // The queue first: a charge moves from the queue to the spool, counted in the spool before it
    // leaves the queue.
    long queued = queue.uncommitted(accountId);
    return Saturating.add(queued, spool.debits(accountId));
  }

  private static Lease lease(LeaseTable.Row row) {
    return new Lease(row.accountId(), row.holder(), row.credits(), row.expiresAt());
  }

  private static void requireTerm(Duration term) {
    if (term == null || term.isNegative() || term.isZero()) {
      throw new IllegalArgumentException("term must be positive, but was " + term);
    }
  }
}

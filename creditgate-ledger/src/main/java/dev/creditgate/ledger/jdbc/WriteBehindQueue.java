package dev.creditgate.ledger.jdbc;

import dev.creditgate.CreditSnapshot;
import dev.creditgate.internal.Saturating;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What this ledger knows about each account that its database or the guard's snapshot may not show
 * yet: the charges accepted into the write-behind queue and not yet settled, and the state its own
 * last commit left in the account. It answers the guard's pending debits and readers waiting for an
 * account's own charges.
 *
 * <p>Design: one {@link Backlog} per account, changed only inside the map's {@code compute} for the
 * account, so every change of it is one atomic step. A commit records its state and takes the
 * credits of the queued charges it wrote out of the uncommitted sum in the same step, so a debit is
 * counted either as uncommitted or in the commit, never both. Readers take the backlog's immutable
 * {@link Debits}: one map lookup and one volatile read, without a lock or an allocation.
 *
 * <p>Accounts with nothing queued are forgotten once {@link #MAX_ACCOUNTS} are remembered: an
 * account forgotten just counts no commit of its own until it is written again.
 */
final class WriteBehindQueue {

  static final int MAX_ACCOUNTS = 100_000;

  private final ConcurrentHashMap<String, Backlog> accounts = new ConcurrentHashMap<>();

  /** The keys ({@link LedgerTables#key}) of the charges queued and not yet durable elsewhere. */
  private final Set<String> queuedEvents = ConcurrentHashMap.newKeySet();

  /**
   * The figures an account's pending debits are computed from; replaced, never changed.
   *
   * @param uncommitted credits of the queued charges no commit wrote yet, unless {@code overflow}
   * @param overflow those credits passed {@code Long.MAX_VALUE}: unknown until every queued charge
   *     settles
   * @param committedVersion the account's version after this ledger's last commit to it; -1 when
   *     none is known
   * @param committedBalance the account's balance after that commit
   */
  private record Debits(
      long uncommitted, boolean overflow, long committedVersion, long committedBalance) {

    static final Debits NONE = new Debits(0, false, -1, 0);

    Debits plus(long credits) {
      if (overflow || credits > Long.MAX_VALUE - uncommitted) {
        return new Debits(0, true, committedVersion, committedBalance);
      }
      return new Debits(uncommitted + credits, false, committedVersion, committedBalance);
    }

    Debits minus(long credits) {
      return overflow || credits == 0
          ? this
          : new Debits(uncommitted - credits, false, committedVersion, committedBalance);
    }

    Debits committed(long version, long balance) {
      return version > committedVersion
          ? new Debits(uncommitted, overflow, version, balance)
          : this;
    }
  }

  /**
   * An account's queued charges: how many were queued and how many settled, and callers waiting for
   * the count settled to reach the count queued when they started (so a steady stream of new
   * charges never keeps an earlier caller waiting). Changed only inside the map's compute.
   */
  private static final class Backlog {
    long queued;
    long settled;
    final List<Waiter> waiters = new ArrayList<>(1);
    volatile Debits debits = Debits.NONE;

    boolean idle() {
      return settled == queued;
    }

    void wakeWaiters() {
      boolean idle = idle();
      waiters.removeIf(
          w -> {
            if (idle || w.settledTarget() <= settled) {
              w.done().complete(null);
              return true;
            }
            return false;
          });
    }
  }

  private record Waiter(long settledTarget, CompletableFuture<Void> done) {}

  /**
   * Counts a charge journaled and acknowledged; its commit (or its settling) takes it out again.
   */
  void accepted(PendingCharge charge) {
    queuedEvents.add(LedgerTables.key(charge.accountId(), charge.request().eventId()));
    accounts.compute(
        charge.accountId(),
        (id, found) -> {
          Backlog backlog = found == null ? new Backlog() : found;
          backlog.queued++;
          backlog.debits = backlog.debits.plus(charge.quote().credits());
          charge.counted = true;
          return backlog;
        });
  }

  /**
   * Records what a commit left in each account it changed and takes the queued charges it wrote
   * ({@code carried}) out of the uncommitted credits, one atomic step per account.
   */
  void committed(Map<String, CreditSnapshot> states, List<PendingCharge> carried) {
    for (Map.Entry<String, CreditSnapshot> state : states.entrySet()) {
      String accountId = state.getKey();
      if (!accounts.containsKey(accountId) && !makeRoom()) {
        continue;
      }
      long version = state.getValue().version();
      long balance = state.getValue().availableCredit();
      accounts.compute(
          accountId,
          (id, found) -> {
            Backlog backlog = found == null ? new Backlog() : found;
            Debits debits = backlog.debits.committed(version, balance);
            for (PendingCharge charge : carried) {
              if (charge.counted && charge.accountId().equals(id)) {
                charge.counted = false;
                debits = debits.minus(charge.quote().credits());
              }
            }
            backlog.debits = debits;
            return backlog;
          });
    }
  }

  /**
   * A queued charge's end: committed, spooled or rejected. {@code durable} says whether it is kept
   * elsewhere now (the database, the spool or the rejected file); until then its event id stays
   * recorded as spent.
   */
  void settled(PendingCharge charge, boolean durable) {
    if (durable) {
      queuedEvents.remove(LedgerTables.key(charge.accountId(), charge.request().eventId()));
    }
    accounts.computeIfPresent(
        charge.accountId(),
        (id, backlog) -> {
          backlog.settled++;
          Debits debits = backlog.debits;
          if (charge.counted) {
            charge.counted = false;
            debits = debits.minus(charge.quote().credits());
          }
          if (backlog.idle() && debits.overflow()) {
            debits = new Debits(0, false, debits.committedVersion(), debits.committedBalance());
          }
          backlog.debits = debits;
          backlog.wakeWaiters();
          return backlog.idle() && debits.committedVersion() < 0 ? null : backlog;
        });
  }

  /**
   * The credits {@code snapshot} does not show yet: the uncommitted queued charges, plus what this
   * ledger's last commit to the account changed since the snapshot's version. Saturates; never
   * negative.
   */
  long pendingDebits(String accountId, CreditSnapshot snapshot) {
    Backlog backlog = accounts.get(accountId);
    if (backlog == null) {
      return 0;
    }
    Debits debits = backlog.debits;
    long pending = debits.overflow() ? Long.MAX_VALUE : debits.uncommitted();
    if (debits.committedVersion() > snapshot.version()) {
      pending =
          Saturating.add(
              pending, Saturating.subtract(snapshot.availableCredit(), debits.committedBalance()));
    }
    return Math.max(0, pending);
  }

  /**
   * The credits of the account's queued charges no commit wrote yet (saturated), without the
   * snapshot arithmetic of {@link #pendingDebits}.
   */
  long uncommitted(String accountId) {
    Backlog backlog = accounts.get(accountId);
    if (backlog == null) {
      return 0;
    }
    Debits debits = backlog.debits;
    return debits.overflow() ? Long.MAX_VALUE : Math.max(0, debits.uncommitted());
  }

  /**
   * Waits, at most {@code timeout}, until every charge of the account queued before this call has
   * settled; true when none is left.
   */
  boolean await(String accountId, Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (!accounts.containsKey(accountId)) {
      return true;
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    accounts.computeIfPresent(
        accountId,
        (id, backlog) -> {
          if (!backlog.idle()) {
            backlog.waiters.add(new Waiter(backlog.queued, done));
          } else {
            done.complete(null);
          }
          return backlog;
        });
    try {
      done.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException e) {
      return true;
    }
  }

  /** Whether a charge with this event id is queued and not yet durable elsewhere. */
  boolean contains(String accountId, String eventId) {
    return queuedEvents.contains(LedgerTables.key(accountId, eventId));
  }

  /** Charges queued and not yet durable elsewhere. */
  int size() {
    return queuedEvents.size();
  }

  /**
   * Forgets accounts with nothing queued when the map is full; false when it stays full. Each
   * account is removed inside its own atomic step, so one that just had a charge queued is kept.
   */
  private boolean makeRoom() {
    if (accounts.size() < MAX_ACCOUNTS) {
      return true;
    }
    for (String id : accounts.keySet()) {
      accounts.computeIfPresent(id, (key, backlog) -> backlog.idle() ? null : backlog);
    }
    return accounts.size() < MAX_ACCOUNTS;
  }
}

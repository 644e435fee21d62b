package dev.creditgate.ledger;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.internal.Saturating;
import dev.creditgate.internal.ThrottledLog;
import dev.creditgate.meter.MeterListener;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a strict meter keeps this process's leases of accounts' credit ({@link CreditLeases}), so
 * that holds are placed in memory and the credit held across all processes never exceeds an
 * account's:
 *
 * <ul>
 *   <li>A hold that does not fit in the lease grows it first (one lease operation at a time per
 *       account; calls arriving meanwhile wait for it), by what is missing plus a slice: {@code
 *       sliceCalls} holds of the same size, or what the account's holds took in the last {@link
 *       #DEMAND_HORIZON} at the rate of the last round, whichever is more. A busy account asks the
 *       ledger about once per horizon, however many calls per second it makes.
 *   <li>After a hold, a lease with less than half a slice left is grown in the background: at most
 *       one such growth per account is queued at a time, and it runs only if the lease is still
 *       short then.
 *   <li>Every sixth of the lease's term, the process renews its leases in one step, and gives back
 *       the lease of every account that had no hold placed since the last round and has none open.
 *       The rounds have their own thread: background growths queued behind one another never delay
 *       a renewal (a lease not renewed in time stops being usable, and every call on it would ask
 *       the ledger).
 * </ul>
 *
 * <p>While a lease is being given back, its room reads as at most zero, so no hold is placed
 * against credit that is leaving; such a call grows the lease again after the give-back.
 */
final class LeaseKeeper implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);

  /** How long a call waits for another call's lease operation on the same account. */
  private static final long WAIT_MILLIS = 10_000;

  /**
   * Threads for background growths and give-backs (one account's at most one at a time): each is a
   * database transaction, and an instance with many busy accounts queues more of them than one
   * thread finishes, while the leases they would top up run dry.
   */
  static final int WORKERS = 2;

  /** A slice covers at least the credits the account's holds took in this long, recently. */
  static final Duration DEMAND_HORIZON = Duration.ofSeconds(30);

  /** How a call's {@link #grow} went. */
  enum Growth {
    /** Another call's lease operation ran; this call was counted in it. */
    WAITED,
    /** This call's operation got all it needed (other calls may have taken it since). */
    GREW,
    /** This call's operation found less free than it needed: the account has no more. */
    SHORT
  }

  /** What the keeper knows of one account this process leases from. */
  private static final class Activity {
    volatile boolean givingBack;

    /** A background growth after a hold is queued or running. */
    final AtomicBoolean topping = new AtomicBoolean();

    /** A give-back of the lease's slack after a shortfall is queued or running. */
    final AtomicBoolean releasing = new AtomicBoolean();

    volatile long placedAt;

    /** Give-backs started plus give-backs ended: a change means one overlapped a growth. */
    final AtomicLong giveBacks = new AtomicLong();

    /** Credits held since the last round. */
    final LongAdder placed = new LongAdder();

    /** Credits held per {@link #DEMAND_HORIZON} over the last round. */
    volatile long demand;

    CompletableFuture<Void> growing; // guarded by this
    long waiting; // calls waiting for the lease operation in flight; guarded by this

    Activity(long now) {
      this.placedAt = now;
    }
  }

  private final CreditLeases leases;
  private final HoldBook holds;
  private final Duration term;
  private final long sliceCalls;
  private final Ticker ticker;
  private final MeterListener listener;
  private final ConcurrentHashMap<String, Activity> accounts = new ConcurrentHashMap<>();
  private final ScheduledExecutorService rounds;
  private final ExecutorService worker;
  private final ThrottledLog failures = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(5));
  private volatile long lastRound;

  LeaseKeeper(
      CreditLeases leases,
      HoldBook holds,
      Duration term,
      long sliceCalls,
      Ticker ticker,
      MeterListener listener) {
    this.leases = leases;
    this.holds = holds;
    this.term = term;
    this.sliceCalls = sliceCalls;
    this.ticker = ticker;
    this.listener = listener;
    this.lastRound = ticker.read();
    this.worker =
        Executors.newFixedThreadPool(
            WORKERS, Thread.ofPlatform().daemon().name("creditgate-lease-keeper-", 0).factory());
    this.rounds =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("creditgate-lease-rounds").factory());
    long every = Math.max(1, term.toMillis() / 6);
    rounds.scheduleWithFixedDelay(this::round, every, every, TimeUnit.MILLISECONDS);
  }

  /** The room this process has for holds on the account: its lease less its unwritten charges. */
  long room(String accountId) {
    long room = leases.leaseRoom(accountId);
    Activity activity = accounts.get(accountId);
    return activity != null && activity.givingBack ? Math.min(0, room) : room;
  }

  /**
   * Grows the account's lease so that {@code missing} more credits fit, plus a slice of holds of
   * {@code holdCredits} and one such hold for every call waiting meanwhile; when another call is
   * already growing it, waits for that instead (and is counted among the waiting).
   *
   * @throws LedgerUnavailableException when the ledger cannot be reached
   */
  Growth grow(String accountId, long missing, long holdCredits, long overdraft) {
    Activity activity = accounts.computeIfAbsent(accountId, id -> new Activity(ticker.read()));
    CompletableFuture<Void> running;
    CompletableFuture<Void> mine = null;
    long waiting;
    synchronized (activity) {
      running = activity.growing;
      if (running == null) {
        mine = new CompletableFuture<>();
        activity.growing = mine;
        waiting = activity.waiting;
        activity.waiting = 0;
      } else {
        activity.waiting++;
        waiting = 0;
      }
    }
    if (mine == null) {
      await(running);
      return Growth.WAITED;
    }
    try {
      long herd =
          waiting > Long.MAX_VALUE / Math.max(1, holdCredits)
              ? Long.MAX_VALUE
              : waiting * holdCredits;
      // What this call and the waiting ones need, then a slice more (of which the ledger grants at
      // most half of what is free, leaving the rest to the account's other holders).
      long needed = Math.min(Saturating.add(missing, herd), LedgerChecks.MAX_AMOUNT);
      long wanted =
          Math.min(
              Saturating.add(needed, slice(holdCredits, activity.demand)), LedgerChecks.MAX_AMOUNT);
      long giveBacks = activity.giveBacks.get();
      boolean givingBack = activity.givingBack;
      long granted = leases.grow(accountId, needed, wanted, overdraft, term);
      listener.onLease(MeterListener.LeaseEvent.GROWN);
      // The ledger's own answer (this process's view of its lease can lag a commit a moment)...
      if (granted >= needed) {
        return Growth.GREW;
      }
      // ... unless a give-back overlapped: the room read as zero while it ran, so the call asked
      // for more than it misses, against a lease not yet trimmed. It measures its room again.
      return givingBack || activity.giveBacks.get() != giveBacks || activity.givingBack
          ? Growth.GREW
          : Growth.SHORT;
    } catch (RuntimeException e) {
      listener.onLease(MeterListener.LeaseEvent.FAILED);
      throw e;
    } finally {
      synchronized (activity) {
        activity.growing = null;
      }
      mine.complete(null);
    }
  }

  /** After a hold was placed with {@code left} credits of room after it. */
  void placed(String accountId, long holdCredits, long left, long overdraft) {
    Activity activity = accounts.computeIfAbsent(accountId, id -> new Activity(ticker.read()));
    activity.placedAt = ticker.read();
    activity.placed.add(holdCredits);
    if (left >= slice(holdCredits, activity.demand) / 2
        || growing(activity)
        || !activity.topping.compareAndSet(false, true)) {
      return;
    }
    try {
      worker.execute(() -> topUp(accountId, activity, holdCredits, overdraft));
    } catch (RejectedExecutionException e) {
      activity.topping.set(false);
    }
  }

  /**
   * The background growth queued by {@link #placed}: grows the lease by a slice unless, by now, a
   * call's own growth has done so or the lease has half a slice free again.
   */
  private void topUp(String accountId, Activity activity, long holdCredits, long overdraft) {
    try {
      long free = holds.free(accountId, () -> room(accountId));
      if (free < slice(holdCredits, activity.demand) / 2 && !growing(activity)) {
        grow(accountId, 0, holdCredits, overdraft);
      }
    } catch (RuntimeException e) {
      failures.warn(
          ticker.read(),
          "cannot grow the credit lease, account_id={}: {}",
          accountId,
          e.toString());
    } finally {
      activity.topping.set(false);
    }
  }

  private static boolean growing(Activity activity) {
    synchronized (activity) {
      return activity.growing != null;
    }
  }

  private long slice(long holdCredits, long demand) {
    long calls =
        holdCredits > Long.MAX_VALUE / Math.max(1, sliceCalls)
            ? Long.MAX_VALUE
            : holdCredits * sliceCalls;
    return Math.max(calls, demand);
  }

  /** Credits held per {@link #DEMAND_HORIZON}, from those held over {@code elapsedNanos}. */
  static long demand(long placed, long elapsedNanos) {
    if (elapsedNanos <= 0 || placed <= 0) {
      return 0;
    }
    long horizon = DEMAND_HORIZON.toNanos();
    // placed * horizon / elapsed, computed without overflow.
    return java.math.BigInteger.valueOf(placed)
        .multiply(java.math.BigInteger.valueOf(horizon))
        .divide(java.math.BigInteger.valueOf(elapsedNanos))
        .min(java.math.BigInteger.valueOf(LedgerChecks.MAX_AMOUNT))
        .longValue();
  }

  /**
   * Renews the leases and gives back those of idle accounts; the rounds thread runs it
   * periodically.
   */
  void round() {
    long started = ticker.read();
    long previous = lastRound;
    lastRound = started;
    for (Activity activity : accounts.values()) {
      activity.demand = demand(activity.placed.sumThenReset(), started - previous);
    }
    try {
      leases.renew(term);
      listener.onLease(MeterListener.LeaseEvent.RENEWED);
    } catch (RuntimeException e) {
      listener.onLease(MeterListener.LeaseEvent.FAILED);
      failures.warn(started, "cannot renew the credit leases: {}", e.toString());
      return;
    }
    for (Map.Entry<String, Activity> entry : accounts.entrySet()) {
      Activity activity = entry.getValue();
      if (activity.placedAt - previous < 0) {
        giveBack(entry.getKey(), activity, true);
      }
    }
  }

  /**
   * After a call found the account short of free credit: gives back at once (in the background)
   * what this process's lease holds beyond its open holds and unwritten charges, so that the
   * account's other processes find that credit. Otherwise, with the account's last credit split
   * between processes' leases in pieces smaller than a call, every call would be refused until the
   * leases went idle. At most one such give-back per account at a time.
   */
  void shortOf(String accountId) {
    Activity activity = accounts.get(accountId);
    if (activity == null
        || holds.free(accountId, () -> room(accountId)) <= 0
        || !activity.releasing.compareAndSet(false, true)) {
      return;
    }
    try {
      worker.execute(
          () -> {
            try {
              giveBack(accountId, activity, false);
            } finally {
              activity.releasing.set(false);
            }
          });
    } catch (RejectedExecutionException e) {
      activity.releasing.set(false);
    }
  }

  /**
   * Gives back the account's lease: all of it when {@code idle} (only with no hold open; the
   * account is then forgotten), else what it holds beyond the open holds and unwritten charges.
   */
  private void giveBack(String accountId, Activity activity, boolean idle) {
    // Counted when it starts and when it ends: a growth it overlaps does not take its own
    // shortfall for the account's (see grow).
    activity.giveBacks.incrementAndGet();
    activity.givingBack = true;
    try {
      // Measured after the flag is up: a hold placed from here on sees no room.
      long held = -holds.free(accountId, () -> 0);
      if (idle && held > 0) {
        return;
      }
      leases.trim(accountId, held, term);
      if (idle) {
        accounts.remove(accountId, activity);
      }
      listener.onLease(MeterListener.LeaseEvent.GIVEN_BACK);
    } catch (RuntimeException e) {
      listener.onLease(MeterListener.LeaseEvent.FAILED);
      failures.warn(
          ticker.read(),
          "cannot give back the credit lease, account_id={}: {}",
          accountId,
          e.toString());
    } finally {
      activity.givingBack = false;
      activity.giveBacks.incrementAndGet();
    }
  }

  private static void await(CompletableFuture<Void> running) {
    try {
      running.get(WAIT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // The caller measures its room again either way.
    }
  }

  /** The live leases of the account, of every process. */
  java.util.List<Lease> leases(String accountId) {
    return leases.leases(accountId);
  }

  /** Stops the rounds and gives back every lease with no hold open (best effort). */
  @Override
  public void close() {
    rounds.shutdownNow();
    worker.shutdownNow();
    for (Map.Entry<String, Activity> entry : accounts.entrySet()) {
      giveBack(entry.getKey(), entry.getValue(), true);
    }
  }
}

package dev.creditgate.ledger.jdbc;

import dev.creditgate.CreditSnapshot;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.LedgerUnavailableException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit: concurrent charges are written many (of any accounts) per transaction, so one
 * commit (one fsync) serves the whole batch. A few committer threads (one for SQLite, which writes
 * one transaction at a time) each take whatever is queued for it, up to the batch size, write it in
 * one transaction and hand each charge its outcome; while a batch commits, the next one queues.
 *
 * <p>An account's charges always go to the same committer (by the hash of its id): the committers
 * of one process never wait on each other's account locks, and a busy account's charges gather into
 * one batch while its previous batch commits, rather than into several transactions queued on its
 * row lock (where every other transaction on the account, a lease operation for one, would wait
 * behind them all).
 *
 * <p>The committers are platform threads of their own: a commit is a blocking native call for
 * SQLite (JNI, fsync included), and on a request's virtual thread it would pin one of the few
 * carrier threads for the whole commit. A charge the ledger refuses (an idempotency conflict) fails
 * alone; a database error rolls the batch back and its charges are then written one by one, so one
 * bad charge never sinks the others.
 */
final class ChargeBatcher {

  private static final Logger LOG = LoggerFactory.getLogger(ChargeBatcher.class);

  /** Where the batcher hands its charges' outcomes, and how it writes a charge alone. */
  interface Outcomes {
    /** Writes the charge in a transaction of its own and finishes it. */
    void writeAlone(PendingCharge charge);

    /** Finishes a charge with its entry, or with the error that refused it. */
    void finish(PendingCharge charge, EntryOutcome outcome, RuntimeException error);
  }

  /** One queue per committer; an account's charges go to the queue of {@link #queueOf}. */
  private final List<LinkedBlockingQueue<PendingCharge>> queues = new ArrayList<>();

  private final List<Thread> committers = new ArrayList<>();
  private final BatchWriter writer;
  private final CommitNotifier notifier;
  private final Outcomes outcomes;
  private final ChargeCounters counters;
  private final int maxBatch;
  private final long waitNanos;
  private final long lingerNanos;
  private volatile boolean stopped;

  /**
   * @param wait how long a caller waits for its charge's commit
   * @param linger how long a committer lets queued charges gather after the first (zero: none)
   */
  ChargeBatcher(
      int committers,
      int maxBatch,
      Duration wait,
      Duration linger,
      BatchWriter writer,
      CommitNotifier notifier,
      Outcomes outcomes,
      ChargeCounters counters) {
    this.maxBatch = maxBatch;
    this.waitNanos = wait.toNanos();
    this.lingerNanos = linger.toNanos();
    this.writer = writer;
    this.notifier = notifier;
    this.outcomes = outcomes;
    this.counters = counters;
    for (int i = 0; i < committers; i++) {
      LinkedBlockingQueue<PendingCharge> queue = new LinkedBlockingQueue<>();
      queues.add(queue);
      Thread t =
          Thread.ofPlatform()
              .daemon()
              .name("creditgate-ledger-committer-" + i)
              .unstarted(() -> run(queue));
      this.committers.add(t);
      t.start();
    }
  }

  /** Queues a charge nobody waits for (write-behind). */
  void enqueue(PendingCharge pending) {
    queueOf(pending).add(pending);
  }

  /** Queues a caller's charge and waits (bounded) for its commit. */
  ChargeResult submit(PendingCharge pending) {
    if (stopped) {
      throw new LedgerUnavailableException("the ledger is closing", null);
    }
    queueOf(pending).add(pending);
    if (stopped) {
      fail(pending);
    }
    long deadline = System.nanoTime() + waitNanos;
    while (!pending.result().isDone()) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        // It may still commit; the caller spools it and the replay finds it applied (same event
        // id).
        throw new LedgerUnavailableException(
            "charge not committed within " + waitNanos / 1_000_000 + " ms", null);
      }
      LockSupport.parkNanos(this, left);
      if (Thread.interrupted()) {
        Thread.currentThread().interrupt();
        throw new LedgerUnavailableException(
            "interrupted while waiting for the charge to commit", null);
      }
    }
    try {
      return pending.result().join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  /**
   * Queues callers' charges together and waits (bounded, one deadline for all) for their commits,
   * so that they share transactions. Returns each charge's outcome in order: its {@link
   * ChargeResult}, or the {@link RuntimeException} that refused it ({@link
   * LedgerUnavailableException} when it did not commit in time; it may still commit).
   */
  List<Object> submitAll(List<PendingCharge> pending) {
    if (stopped) {
      throw new LedgerUnavailableException("the ledger is closing", null);
    }
    pending.forEach(p -> queueOf(p).add(p));
    if (stopped) {
      pending.forEach(ChargeBatcher::fail);
    }
    long deadline = System.nanoTime() + waitNanos;
    List<Object> outcomes = new ArrayList<>(pending.size());
    for (PendingCharge p : pending) {
      while (!p.result().isDone()) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || Thread.currentThread().isInterrupted()) {
          break;
        }
        LockSupport.parkNanos(this, left);
      }
      if (!p.result().isDone()) {
        outcomes.add(
            new LedgerUnavailableException(
                "charge not committed within " + waitNanos / 1_000_000 + " ms", null));
        continue;
      }
      try {
        outcomes.add(p.result().join());
      } catch (CompletionException e) {
        outcomes.add(
            e.getCause() instanceof RuntimeException runtime
                ? runtime
                : new IllegalStateException(e.getCause()));
      }
    }
    return outcomes;
  }

  private LinkedBlockingQueue<PendingCharge> queueOf(PendingCharge pending) {
    return queues.get(Math.floorMod(pending.accountId().hashCode(), queues.size()));
  }

  /**
   * A committer: takes what is queued for it, a batch per transaction, until stopped (it then
   * finishes its batch).
   */
  private void run(LinkedBlockingQueue<PendingCharge> queue) {
    List<PendingCharge> batch = new ArrayList<>(maxBatch);
    while (!stopped) {
      try {
        PendingCharge first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        if (lingerNanos > 0 && first.isQueued() && queue.size() < maxBatch - 1 && !stopped) {
          // One sleep rather than a wake-up per arriving charge.
          LockSupport.parkNanos(this, lingerNanos);
        }
        batch.add(first);
        queue.drainTo(batch, maxBatch - 1);
        long start = System.nanoTime();
        commit(batch);
        counters.groupCommits.increment();
        counters.groupCommitCharges.add(batch.size());
        counters.groupCommitNanos.add(System.nanoTime() - start);
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.error("ledger committer failed a batch of {} charges", batch.size(), e);
        for (PendingCharge p : batch) {
          outcomes.finish(
              p, null, new LedgerUnavailableException("the charge could not be committed", e));
        }
      } finally {
        batch.clear();
      }
    }
  }

  private void commit(List<PendingCharge> batch) {
    if (batch.size() == 1) {
      outcomes.writeAlone(batch.get(0));
      return;
    }
    // Accounts are locked in id order within a batch, so two batches never deadlock.
    List<PendingCharge> ordered = new ArrayList<>(batch);
    ordered.sort(Comparator.comparing(PendingCharge::accountId));
    BatchWriter.Written done;
    try {
      done = writer.write(ordered);
    } catch (LedgerUnavailableException e) {
      if (e.getCause() instanceof SQLException sql
          && sql.getSQLState() != null
          && sql.getSQLState().startsWith("40")) {
        // A deadlock or serialization failure (possible when batches create the same new accounts).
        ordered.forEach(outcomes::writeAlone);
        return;
      }
      for (PendingCharge p : ordered) {
        outcomes.finish(p, null, e);
      }
      return;
    } catch (RuntimeException e) {
      ordered.forEach(outcomes::writeAlone);
      return;
    }
    // The newest state of each account the batch changed, told all at once before any charge
    // completes, so that a caller's next guard check sees its own charge.
    List<BatchOutcome> results = done.outcomes();
    Map<String, CreditSnapshot> states = new HashMap<>();
    List<PendingCharge> carried = new ArrayList<>();
    for (int i = 0; i < ordered.size(); i++) {
      if (results.get(i) instanceof BatchOutcome.Written written) {
        states.merge(
            ordered.get(i).accountId(),
            written.outcome().account().snapshot(),
            (a, b) -> a.version() >= b.version() ? a : b);
        if (ordered.get(i).isQueued()) {
          carried.add(ordered.get(i));
        }
      }
    }
    writer.committed(done, () -> notifier.uncount(states, carried));
    notifier.tell(states);
    for (int i = 0; i < ordered.size(); i++) {
      switch (results.get(i)) {
        case BatchOutcome.Written written ->
            outcomes.finish(ordered.get(i), written.outcome(), null);
        case BatchOutcome.Refused refused -> outcomes.finish(ordered.get(i), null, refused.error());
      }
    }
  }

  /**
   * Lets the committers write what is queued (bounded by the commit wait), then stops them. Queued
   * charges still unwritten stay in the journal and are replayed at the next start.
   */
  void stop() {
    long drainDeadline = System.nanoTime() + waitNanos;
    while (queues.stream().anyMatch(q -> !q.isEmpty()) && System.nanoTime() - drainDeadline < 0) {
      LockSupport.parkNanos(5_000_000);
    }
    stopped = true;
    for (Thread t : committers) {
      try {
        t.join(Math.max(1, waitNanos / 1_000_000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    for (LinkedBlockingQueue<PendingCharge> queue : queues) {
      PendingCharge pending;
      while ((pending = queue.poll()) != null) {
        fail(pending);
      }
    }
  }

  private static void fail(PendingCharge pending) {
    if (!pending.isQueued()) {
      pending.complete(null, new LedgerUnavailableException("the ledger is closing", null));
    }
  }
}

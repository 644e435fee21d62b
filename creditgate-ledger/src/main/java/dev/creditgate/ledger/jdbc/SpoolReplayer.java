package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.IdempotencyConflictException;
import dev.creditgate.ledger.LedgerUnavailableException;
import dev.creditgate.pricing.Quote;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes spooled charges to the database, oldest first, once it takes them again: a sealed segment
 * of the spool at a time, up to {@link #GROUP} charges together so that they share group commits. A
 * charge whose event id another call was charged with (an idempotency conflict) is charged under an
 * id of its own, except a recovered estimate of an unfinished call, which is then dropped (its
 * call's own charge got there). A record the ledger refuses (a bad value, an unknown account) goes
 * to the spool directory's rejected file; one that keeps failing otherwise is set aside there after
 * {@link #MAX_REPLAY_ATTEMPTS}, so it never holds up the charges behind it.
 *
 * <p>A charge whose call was held against a lease (a charge of this or a dead process spooled or
 * journaled before its commit, the recovered estimate of a call a dead process had in flight) is
 * taken out of that lease ({@link Metering#writeHeld}): what the lease no longer holds (it expired
 * meanwhile, and others may have leased that credit) is recorded as the entry's overrun.
 */
final class SpoolReplayer implements AutoCloseable {

  /** Replays of one record that may fail before it is set aside in the rejected file. */
  static final int MAX_REPLAY_ATTEMPTS = 5;

  /** Spooled charges written together, sharing group commits. */
  static final int GROUP = 256;

  private static final Logger LOG = LoggerFactory.getLogger(SpoolReplayer.class);

  private final ChargeSpool spool;
  private final PriceRules prices;
  private final Metering metering;
  private final ChargeCounters counters;
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final ReentrantLock lock = new ReentrantLock();
  private final ScheduledThreadPoolExecutor scheduler;
  private volatile boolean stopped;

  /** Failed replays per spooled record (other than "database unavailable"); guarded by lock. */
  private final Map<SpoolRecord, Integer> attempts = new HashMap<>();

  SpoolReplayer(ChargeSpool spool, PriceRules prices, Metering metering, ChargeCounters counters) {
    this.spool = spool;
    this.prices = prices;
    this.metering = metering;
    this.counters = counters;
    this.scheduler =
        new ScheduledThreadPoolExecutor(
            1,
            runnable -> {
              Thread thread =
                  new Thread(runnable, "creditgate-ledger-replay-" + THREADS.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    scheduler.setRemoveOnCancelPolicy(true);
  }

  /**
   * Replays what a previous process left in the spool at once, then keeps draining it every {@code
   * interval}.
   */
  void start(Duration interval) {
    scheduler.scheduleWithFixedDelay(
        this::replayQuietly, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void replayQuietly() {
    if (stopped || spool.isEmpty()) {
      return;
    }
    try {
      replay();
    } catch (RuntimeException e) {
      LOG.warn("spool replay failed: {}", e.toString());
    }
  }

  /** Stops the background replay, letting a replay in progress finish (bounded). */
  @Override
  public void close() {
    stopped = true;
    scheduler.shutdown();
    try {
      if (!scheduler.awaitTermination(10, TimeUnit.SECONDS)) {
        scheduler.shutdownNow();
      }
    } catch (InterruptedException e) {
      scheduler.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Replays what the spool holds, a segment at a time, oldest first, until the database fails;
   * returns how many charges are still pending.
   */
  long replay() {
    lock.lock();
    try {
      long written = 0;
      try {
        for (SpoolSegment segment : spool.forReplay()) {
          written += replay(segment);
        }
      } catch (LedgerUnavailableException e) {
        LOG.debug("spool replay paused, database unavailable: {}", e.getMessage());
      } finally {
        if (written > 0) {
          LOG.info("spool replay wrote {} charges, {} pending", written, spool.size());
        }
      }
      return spool.size();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Replays one sealed segment; returns how many of its records left the spool.
   *
   * @throws LedgerUnavailableException when the database failed (what it took is done, the rest
   *     stays in the segment)
   */
  private int replay(SpoolSegment segment) {
    List<SpoolRecord> records = spool.read(segment);
    BitSet done = new BitSet(records.size());
    try {
      List<Integer> group = new ArrayList<>(GROUP);
      for (int i = 0; i < records.size(); i++) {
        SpoolRecord record = records.get(i);
        if (JournalRecovery.isRecoveredEstimate(record.request())) {
          // Alone, in spool order: it is dropped if its call's own charge got there first.
          replayGroup(records, group, done);
          leaves(i, record, replayOne(record), done);
          continue;
        }
        group.add(i);
        if (group.size() == GROUP) {
          replayGroup(records, group, done);
        }
      }
      replayGroup(records, group, done);
    } finally {
      spool.done(segment, records, done);
    }
    return done.cardinality();
  }

  /**
   * Writes a group of spooled charges (indexes into {@code records}) together (they share group
   * commits), then handles each outcome in spool order as {@link #replayOne} would; clears the
   * group.
   *
   * @throws LedgerUnavailableException when the database failed (what it took is done, the rest
   *     stays)
   */
  private void replayGroup(List<SpoolRecord> records, List<Integer> group, BitSet done) {
    if (group.isEmpty()) {
      return;
    }
    try {
      List<Integer> priced = new ArrayList<>(group.size());
      List<ChargeRequest> requests = new ArrayList<>(group.size());
      List<Quote> quotes = new ArrayList<>(group.size());
      List<String> holders = new ArrayList<>(group.size());
      for (int index : group) {
        SpoolRecord record = records.get(index);
        Quote quote;
        try {
          quote = quote(record);
        } catch (LedgerUnavailableException e) {
          throw e;
        } catch (RuntimeException e) {
          leaves(index, record, failed(record, null, e), done);
          continue;
        }
        priced.add(index);
        requests.add(record.request());
        quotes.add(quote);
        holders.add(record.leaseHolder());
      }
      List<Object> outcomes = metering.writeAll(requests, quotes, holders);
      LedgerUnavailableException unavailable = null;
      for (int i = 0; i < priced.size(); i++) {
        int index = priced.get(i);
        SpoolRecord record = records.get(index);
        if (outcomes.get(i) instanceof LedgerUnavailableException e) {
          unavailable = e;
        } else if (outcomes.get(i) instanceof RuntimeException e) {
          leaves(index, record, failed(record, quotes.get(i), e), done);
        } else {
          counters.replayed.increment();
          leaves(index, record, true, done);
        }
      }
      if (unavailable != null) {
        throw unavailable;
      }
    } finally {
      group.clear();
    }
  }

  /** The price quoted when the record was spooled, or the rules' price now when there was none. */
  private Quote quote(SpoolRecord record) {
    ChargeRequest r = record.request();
    return record.quote() != null
        ? record.quote()
        : prices.quoteFor(r.scene(), r.provider(), r.model(), r.usage());
  }

  private void leaves(int index, SpoolRecord record, boolean leaves, BitSet done) {
    if (leaves) {
      attempts.remove(record);
      done.set(index);
    }
  }

  /**
   * Replays one record; true when it leaves the spool (written or rejected), false to try it again
   * later.
   */
  private boolean replayOne(SpoolRecord record) {
    ChargeRequest request = record.request();
    Quote quote = null;
    try {
      quote = quote(record);
      metering.writeHeld(request, quote, record.leaseHolder());
      counters.replayed.increment();
      return true;
    } catch (LedgerUnavailableException e) {
      throw e;
    } catch (RuntimeException e) {
      return failed(record, quote, e);
    }
  }

  /**
   * A record the database answered with {@code e} (not an outage): a conflicting event id is
   * charged under an id of its own (a recovered estimate is dropped instead), a refusal goes to the
   * rejected file, any other failure is tried again on later passes, up to {@link
   * #MAX_REPLAY_ATTEMPTS}. True when the record leaves the spool.
   */
  private boolean failed(SpoolRecord record, Quote quote, RuntimeException e) {
    ChargeRequest request = record.request();
    if (e instanceof IdempotencyConflictException) {
      if (JournalRecovery.isRecoveredEstimate(request)) {
        // The unfinished call was charged after all: its own charge is in the ledger.
        LOG.info(
            "recovered estimate dropped, its call's charge is in the ledger: account_id={}"
                + " event_id={}",
            request.accountId(),
            request.eventId());
        return true;
      }
      return chargeUnderOwnId(record, quote);
    }
    if (Metering.isRefusal(e)) {
      return refused(record, e);
    }
    // Any other failure is retried on later passes, but one poisoned record must never hold up
    // every charge behind it forever.
    int failed = attempts.merge(record, 1, Integer::sum);
    if (failed < MAX_REPLAY_ATTEMPTS) {
      LOG.warn(
          "spooled charge replay failed (attempt {} of {}), account_id={} event_id={}: {}",
          failed,
          MAX_REPLAY_ATTEMPTS,
          request.accountId(),
          request.eventId(),
          e.toString());
      return false;
    }
    counters.rejected.increment();
    LOG.error(
        "spooled charge failed {} replays, kept in {}: account_id={} event_id={}: {}",
        failed,
        ChargeSpool.REJECTED_FILE,
        request.accountId(),
        request.eventId(),
        e.toString());
    spool.reject(record, "replay failed " + failed + " times: " + e);
    return true;
  }

  /**
   * A spooled charge whose event id another call was charged with first (the same Idempotency-Key
   * served twice at once): this call was served too, so it is charged under an id of its own, as a
   * queued charge is ({@link ChargeRequest#underOwnId()}; the same charge always gets the same own
   * id, so a replay after a crash does not charge it twice).
   *
   * @throws LedgerUnavailableException when the database went away meanwhile (the record stays)
   */
  private boolean chargeUnderOwnId(SpoolRecord record, Quote quote) {
    ChargeRequest own = record.request().underOwnId();
    LOG.warn(
        "spooled charge's idempotency key was charged by another call; charging this call as {},"
            + " account_id={} event_id={}",
        own.eventId(),
        own.accountId(),
        record.request().eventId());
    try {
      metering.writeHeld(own, quote, record.leaseHolder());
    } catch (LedgerUnavailableException e) {
      throw e;
    } catch (RuntimeException e) {
      return refused(
          new SpoolRecord(record.spooledAt(), own, record.quote(), record.leaseHolder()), e);
    }
    counters.replayed.increment();
    return true;
  }

  /** A record the ledger refuses for good: set aside in the rejected file. */
  private boolean refused(SpoolRecord record, RuntimeException e) {
    ChargeRequest request = record.request();
    counters.rejected.increment();
    LOG.error(
        "spooled charge rejected by the ledger, kept in {}: account_id={} event_id={}: {}",
        ChargeSpool.REJECTED_FILE,
        request.accountId(),
        request.eventId(),
        e.getMessage());
    spool.reject(record, e.getMessage());
    return true;
  }
}

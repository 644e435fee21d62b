package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.AccountNotFoundException;
import dev.creditgate.ledger.ChargeIntent;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.IdempotencyConflictException;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.LedgerUnavailableException;
import dev.creditgate.pricing.Quote;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a charge finds its way into the ledger: priced, then journaled and queued behind the answer
 * (write-behind), committed before the answer (in a group commit or alone), or spooled when the
 * database cannot take it; and how a queued charge ends (committed, spooled, or set aside in the
 * rejected file).
 */
final class Metering implements ChargeBatcher.Outcomes, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Metering.class);

  /** What a charge past its commit wait may still need: a spool append and its fsync. */
  private static final Duration CLOSE_WAIT_MARGIN = Duration.ofSeconds(1);

  private final Clock clock;
  private final ChargeSpool spool;
  private final PriceRules prices;
  private final EntryWriter entries;
  private final WriteBehindQueue queue;
  private final ChargeCounters counters;
  private final JdbcLeases leases;

  /**
   * The write-behind journal, or null when every charge is committed before {@link #charge}
   * returns.
   */
  private final ChargeJournal journal;

  /** Group commit, or null when every charge is written alone on its caller's thread. */
  private final ChargeBatcher batcher;

  private volatile boolean closed;

  /**
   * Charges being taken now; {@link #close} waits for them, so the journal and the spool never
   * close under a charge handed over before.
   */
  private final AtomicInteger charging = new AtomicInteger();

  /**
   * The longest a charge can take: its commit wait (a group commit, or a connection and a
   * transaction of its own), then a spool append.
   */
  private final Duration closeWait;

  Metering(
      LedgerOptions options,
      Dialect dialect,
      ChargeSpool spool,
      PriceRules prices,
      EntryWriter entries,
      BatchWriter batches,
      CommitNotifier notifier,
      WriteBehindQueue queue,
      ChargeCounters counters,
      ChargeJournal journal,
      JdbcLeases leases) {
    this.clock = options.clock();
    this.spool = spool;
    this.prices = prices;
    this.entries = entries;
    this.queue = queue;
    this.counters = counters;
    this.journal = journal;
    this.leases = leases;
    this.closeWait = options.commitWait().plus(CLOSE_WAIT_MARGIN);
    if (options.groupCommit()) {
      // SQLite writes one transaction at a time, so more than one committer would only queue.
      int committers = dialect == Dialect.SQLITE ? 1 : Math.max(1, options.poolSize() / 2);
      this.batcher =
          new ChargeBatcher(
              committers,
              options.chargeBatchSize(),
              options.commitWait(),
              options.writeBehind() ? LedgerOptions.WRITE_BEHIND_LINGER : Duration.ZERO,
              batches,
              notifier,
              this,
              counters);
    } else {
      this.batcher = null;
    }
  }

  /** Whether charges are journaled and written behind the answer. */
  boolean writesBehind() {
    return journal != null && batcher != null;
  }

  /**
   * {@code intent} is the journaled intent the charge ends, or null.
   *
   * @throws IllegalStateException when the ledger is closed: the charge was not taken
   */
  ChargeResult charge(ChargeRequest request, JournalIntent intent) {
    Objects.requireNonNull(request, "request");
    LedgerArguments.checkCharge(request);
    // Counted before the check: a close either sees this charge and waits for it, or this charge
    // sees the close and is refused.
    charging.incrementAndGet();
    try {
      if (closed) {
        throw new IllegalStateException(
            "the ledger is closed: charge of event " + request.eventId() + " not taken");
      }
      return take(request, intent);
    } finally {
      charging.decrementAndGet();
    }
  }

  private ChargeResult take(ChargeRequest request, JournalIntent intent) {
    Quote quote;
    try {
      quote =
          prices.quoteFor(request.scene(), request.provider(), request.model(), request.usage());
    } catch (LedgerUnavailableException e) {
      // No price rules could ever be read: spool unpriced, priced on replay.
      return settled(intent, spool(request, null, e));
    }
    if (!spool.isEmpty()) {
      // Older charges wait in the spool: keep their order and do not wait on a database that just
      // failed.
      return settled(intent, spool(request, quote, null));
    }
    if (writesBehind()) {
      ChargeResult result = queue(request, quote, intent);
      if (result != null) {
        return result;
      }
    }
    try {
      return settled(intent, write(request, quote));
    } catch (LedgerUnavailableException e) {
      return settled(intent, spool(request, quote, e));
    }
  }

  private static ChargeResult settled(JournalIntent intent, ChargeResult result) {
    if (intent != null) {
      intent.settle();
    }
    return result;
  }

  /**
   * Journals a call's estimate before the call is served.
   *
   * @throws LedgerUnavailableException when the journal cannot be written
   */
  ChargeIntent recordIntent(ChargeRequest estimate) {
    Objects.requireNonNull(estimate, "estimate");
    LedgerArguments.checkCharge(estimate);
    ensureOpen();
    try {
      // The lease holder goes with the intent: should the process die during the call, its
      // estimate is charged against the lease that held the call's credit (see writeHeld).
      ChargeJournal.Ticket ticket =
          journal.intent(
              new SpoolRecord(
                  clock.instant(), estimate, null, leases.leaseHolder(estimate.accountId())));
      return new JournalIntent(this, journal, estimate.accountId(), estimate.eventId(), ticket);
    } catch (RuntimeException e) {
      throw new LedgerUnavailableException(
          "cannot journal the intent of event " + estimate.eventId(), e);
    }
  }

  /**
   * Write-behind: journals the charge (a {@code write(2)}, which survives a crash of the process)
   * and leaves its database write to the committer; null when the journal cannot be written (the
   * caller then commits the charge before returning).
   */
  private ChargeResult queue(ChargeRequest request, Quote quote, JournalIntent intent) {
    LedgerArguments.checkChargeAmount(request, quote);
    SpoolRecord record = record(request, quote);
    ChargeJournal.Ticket ticket;
    try {
      ticket = journal.charge(record, intent == null ? null : intent.eventId());
    } catch (RuntimeException e) {
      LOG.warn(
          "charge journal not writable, committing the charge before answering, event_id={}: {}",
          request.eventId(),
          e.toString());
      return null;
    }
    if (intent != null) {
      intent.link();
    }
    PendingCharge pending = PendingCharge.queued(request, quote, record, ticket, intent);
    queue.accepted(pending);
    batcher.enqueue(pending);
    return new ChargeResult(ChargeResult.Status.QUEUED, null, quote);
  }

  /**
   * A charge of a call of this process, to journal or spool: with this process's lease holder when
   * the call was held against its lease, so that a replay takes the charge out of that lease and
   * records what the lease no longer covers (it expired meanwhile) as overrun.
   */
  private SpoolRecord record(ChargeRequest request, Quote quote) {
    return new SpoolRecord(
        clock.instant(), request, quote, leases.leaseHolder(request.accountId()));
  }

  /** Writes a priced charge before returning: through group commit when there is one. */
  ChargeResult write(ChargeRequest request, Quote quote) {
    LedgerArguments.checkChargeAmount(request, quote);
    if (batcher != null) {
      return batcher.submit(PendingCharge.awaited(request, quote));
    }
    return result(writeAlone(request, quote, List.of()), request, quote);
  }

  /**
   * Writes priced replayed charges before returning, sharing transactions where group commit runs;
   * each against the lease of the holder its call was held by ({@code leaseHolders}, {@code ""}:
   * none), as {@link #writeHeld} does. Returns each charge's outcome in order: its {@link
   * ChargeResult}, or the {@link RuntimeException} that refused it ({@link
   * LedgerUnavailableException} when the database did not take it).
   */
  List<Object> writeAll(
      List<ChargeRequest> requests, List<Quote> quotes, List<String> leaseHolders) {
    Object[] outcomes = new Object[requests.size()];
    List<PendingCharge> pending = new java.util.ArrayList<>(requests.size());
    List<Integer> batched = new java.util.ArrayList<>(requests.size());
    LedgerUnavailableException unavailable = null;
    for (int i = 0; i < requests.size(); i++) {
      try {
        if (unavailable != null) {
          // Written one by one, and the database just failed: the rest waits for a later pass.
          throw unavailable;
        }
        if (batcher == null) {
          outcomes[i] = writeHeld(requests.get(i), quotes.get(i), leaseHolders.get(i));
        } else {
          LedgerArguments.checkChargeAmount(requests.get(i), quotes.get(i));
          pending.add(PendingCharge.awaited(requests.get(i), quotes.get(i), leaseHolders.get(i)));
          batched.add(i);
        }
      } catch (LedgerUnavailableException e) {
        unavailable = e;
        outcomes[i] = e;
      } catch (RuntimeException e) {
        outcomes[i] = e;
      }
    }
    if (!pending.isEmpty()) {
      List<Object> written = batcher.submitAll(pending);
      for (int n = 0; n < batched.size(); n++) {
        outcomes[batched.get(n)] = written.get(n);
      }
    }
    return java.util.Arrays.asList(outcomes);
  }

  /**
   * Writes a replayed charge whose call {@code leaseHolder} held against its lease (a charge
   * spooled or journaled before its commit, the recovered estimate of a call a dead process had in
   * flight), in a transaction of its own: the charge takes its credit out of that lease where the
   * lease still holds it, and the rest is recorded as the entry's overrun (the lease expired before
   * the charge: that credit may have been leased and spent by others meanwhile). Without a holder
   * ({@code ""}) it is an ordinary {@link #write}.
   */
  ChargeResult writeHeld(ChargeRequest request, Quote quote, String leaseHolder) {
    if (leaseHolder.isEmpty()) {
      return write(request, quote);
    }
    LedgerArguments.checkChargeAmount(request, quote);
    return result(
        entries.writeHeld(request, EntryDraft.charge(request, quote), leaseHolder), request, quote);
  }

  private EntryOutcome writeAlone(ChargeRequest request, Quote quote, List<PendingCharge> carried) {
    return entries.write(
        request.accountId(), request.eventId(), true, EntryDraft.charge(request, quote), carried);
  }

  @Override
  public void writeAlone(PendingCharge charge) {
    EntryOutcome outcome;
    try {
      outcome =
          charge.leaseHolder().isEmpty()
              ? writeAlone(
                  charge.request(), charge.quote(), charge.isQueued() ? List.of(charge) : List.of())
              : entries.writeHeld(
                  charge.request(),
                  EntryDraft.charge(charge.request(), charge.quote()),
                  charge.leaseHolder());
    } catch (RuntimeException e) {
      finish(charge, null, e);
      return;
    }
    finish(charge, outcome, null);
  }

  @Override
  public void finish(PendingCharge charge, EntryOutcome outcome, RuntimeException error) {
    if (charge.isQueued()) {
      settleQueued(charge, error);
    } else if (error != null) {
      charge.complete(null, error);
    } else {
      charge.complete(result(outcome, charge.request(), charge.quote()), null);
    }
  }

  private ChargeResult result(EntryOutcome outcome, ChargeRequest request, Quote quote) {
    LedgerEntry entry = outcome.entry();
    if (outcome.replayed()) {
      return new ChargeResult(
          ChargeResult.Status.REPLAYED,
          entry,
          new Quote(entry.costMicros(), -entry.amount(), entry.priceRuleId(), entry.unpriced()));
    }
    if (entry.unpriced()) {
      counters.unpriced.increment();
      LOG.warn(
          "unpriced charge recorded at {} credits (the fallback, 0 without one): no active price rule"
              + " matches scene='{}' provider='{}' model='{}' (account_id={} event_id={})",
          -entry.amount(),
          request.scene(),
          request.provider(),
          request.model(),
          request.accountId(),
          request.eventId());
    }
    return new ChargeResult(ChargeResult.Status.APPLIED, entry, quote);
  }

  /**
   * A queued charge's end: committed, or spooled when the database is away, or set aside in the
   * rejected file when the ledger refuses it. Its journal record is done once the charge is durable
   * elsewhere; should even the spool fail, the record stays in the journal for the next start.
   */
  private void settleQueued(PendingCharge p, RuntimeException error) {
    boolean durable = true;
    SpoolRecord record = p.record();
    if (error instanceof IdempotencyConflictException) {
      // Another gateway served the same Idempotency-Key at the same moment and charged it first.
      // This call was served as well, so it is charged under an id of its own rather than given
      // away.
      ChargeRequest own = p.request().underOwnId();
      LOG.warn(
          "idempotency key raced on another gateway; charging this call as {}, account_id={} event_id={}",
          own.eventId(),
          own.accountId(),
          p.request().eventId());
      record = new SpoolRecord(clock.instant(), own, p.quote(), record.leaseHolder());
      try {
        writeAlone(own, p.quote(), List.of(p));
        error = null;
      } catch (RuntimeException e) {
        error = e;
      }
    }
    if (isRefusal(error)) {
      counters.rejected.increment();
      LOG.error(
          "queued charge rejected by the ledger, kept in {}: account_id={} event_id={}: {}",
          ChargeSpool.REJECTED_FILE,
          p.request().accountId(),
          p.request().eventId(),
          error.getMessage());
      spool.reject(record, error.getMessage());
    } else if (error != null) {
      try {
        spool.append(record);
        counters.spooled.increment();
        LOG.warn(
            "ledger database unavailable, queued charge spooled, account_id={} event_id={}: {}",
            p.request().accountId(),
            p.request().eventId(),
            error.getMessage());
      } catch (RuntimeException e) {
        durable = false;
        LOG.error(
            "queued charge could not be spooled; it stays in the journal for the next start,"
                + " account_id={} event_id={}: {}",
            p.request().accountId(),
            p.request().eventId(),
            e.toString());
      }
    }
    // Not durable: still recorded as spent (a reused key is refused) until the next start replays
    // it from the journal.
    queue.settled(p, durable);
    if (durable) {
      if (p.intent() != null) {
        journal.doneWhenGone(p.ticket(), p.intent().ticket());
        p.intent().settle();
      } else {
        journal.done(p.ticket());
      }
    }
  }

  /** Whether the ledger refused a charge for good (replaying it would be refused again). */
  static boolean isRefusal(RuntimeException error) {
    return error instanceof IdempotencyConflictException
        || error instanceof IllegalArgumentException
        || error instanceof AccountNotFoundException;
  }

  /** Writes the charge to the durable spool, to be replayed once the database takes it. */
  ChargeResult spool(ChargeRequest request, Quote quote, LedgerUnavailableException cause) {
    try {
      spool.append(record(request, quote));
    } catch (RuntimeException e) {
      LedgerUnavailableException failure =
          new LedgerUnavailableException(
              "charge "
                  + request.eventId()
                  + " could not be written to the database nor to the spool",
              e);
      if (cause != null) {
        failure.addSuppressed(cause);
      }
      throw failure;
    }
    counters.spooled.increment();
    if (cause != null) {
      LOG.warn(
          "ledger database unavailable, charge spooled, account_id={} event_id={}: {}",
          request.accountId(),
          request.eventId(),
          cause.getMessage());
    }
    return new ChargeResult(ChargeResult.Status.SPOOLED, null, quote);
  }

  private void awaitCharges() {
    long deadline = System.nanoTime() + closeWait.toNanos();
    while (charging.get() > 0) {
      if (System.nanoTime() - deadline >= 0) {
        LOG.error(
            "closing with {} charge(s) still being taken after {}: one that cannot reach the"
                + " database or the spool now fails, and its caller is told",
            charging.get(),
            closeWait);
        return;
      }
      LockSupport.parkNanos(1_000_000);
    }
  }

  /** Abandons the journal as a killed process leaves it (for tests of the recovery). */
  void haltJournal() {
    if (journal != null) {
      journal.halt();
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the ledger is closed");
    }
  }

  /**
   * Stops taking charges, waits (bounded) for those being taken to be written, queued or spooled,
   * lets group commit write what is queued (bounded), and closes the journal.
   */
  @Override
  public void close() {
    closed = true;
    awaitCharges();
    if (batcher != null) {
      batcher.stop();
    }
    if (journal != null) {
      journal.close();
    }
  }
}

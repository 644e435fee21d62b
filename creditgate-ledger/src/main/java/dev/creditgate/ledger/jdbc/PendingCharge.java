package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.pricing.Quote;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;

/**
 * A charge waiting for its group commit: either a caller's (its future and the thread waiting for
 * it, woken when it is done) or a queued one (write-behind: its journal record, settled when it is
 * done, and nobody waiting).
 */
final class PendingCharge {

  private final ChargeRequest request;
  private final Quote quote;
  private final CompletableFuture<ChargeResult> result;
  private final Thread waiter;
  private final SpoolRecord record;
  private final ChargeJournal.Ticket ticket;
  private final JournalIntent intent;

  /**
   * The holder whose lease held a replayed charge's call, whose lease the charge is taken out of
   * (what it does not cover is recorded as overrun); {@code ""} for a charge of this process's
   * calls now, which consumes this process's lease if it has one.
   */
  private final String leaseHolder;

  /**
   * Whether the charge's credits are in its account's pending debits; changed only by the {@link
   * WriteBehindQueue}, inside the atomic update of the account's backlog.
   */
  boolean counted;

  private PendingCharge(
      ChargeRequest request,
      Quote quote,
      CompletableFuture<ChargeResult> result,
      Thread waiter,
      SpoolRecord record,
      ChargeJournal.Ticket ticket,
      JournalIntent intent,
      String leaseHolder) {
    this.request = request;
    this.quote = quote;
    this.result = result;
    this.waiter = waiter;
    this.record = record;
    this.ticket = ticket;
    this.intent = intent;
    this.leaseHolder = leaseHolder;
  }

  /** A charge whose caller waits for its commit on the current thread. */
  static PendingCharge awaited(ChargeRequest request, Quote quote) {
    return awaited(request, quote, "");
  }

  /**
   * A replayed charge whose caller waits for its commit, of a call {@code leaseHolder} held against
   * its lease ({@code ""}: none).
   */
  static PendingCharge awaited(ChargeRequest request, Quote quote, String leaseHolder) {
    return new PendingCharge(
        request,
        quote,
        new CompletableFuture<>(),
        Thread.currentThread(),
        null,
        null,
        null,
        leaseHolder);
  }

  /**
   * A charge journaled and acknowledged before its commit (write-behind); {@code intent} may be
   * null.
   */
  static PendingCharge queued(
      ChargeRequest request,
      Quote quote,
      SpoolRecord record,
      ChargeJournal.Ticket ticket,
      JournalIntent intent) {
    return new PendingCharge(request, quote, null, null, record, ticket, intent, "");
  }

  boolean isQueued() {
    return ticket != null;
  }

  String accountId() {
    return request.accountId();
  }

  ChargeRequest request() {
    return request;
  }

  Quote quote() {
    return quote;
  }

  CompletableFuture<ChargeResult> result() {
    return result;
  }

  SpoolRecord record() {
    return record;
  }

  ChargeJournal.Ticket ticket() {
    return ticket;
  }

  JournalIntent intent() {
    return intent;
  }

  String leaseHolder() {
    return leaseHolder;
  }

  /** Hands an awaited charge's outcome to its caller and wakes it. */
  void complete(ChargeResult outcome, RuntimeException error) {
    boolean changed =
        error == null ? result.complete(outcome) : result.completeExceptionally(error);
    if (changed) {
      LockSupport.unpark(waiter);
    }
  }
}

package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.ChargeIntent;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.LedgerUnavailableException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An intent in the journal; done once its charge is durable, or voided when its call ends
 * uncharged.
 */
final class JournalIntent implements ChargeIntent {

  private static final Logger LOG = LoggerFactory.getLogger(JournalIntent.class);

  private final Metering metering;
  private final ChargeJournal journal;
  private final String accountId;
  private final String eventId;
  private final ChargeJournal.Ticket ticket;
  private volatile boolean linked;
  private final AtomicBoolean closedOnce = new AtomicBoolean();

  JournalIntent(
      Metering metering,
      ChargeJournal journal,
      String accountId,
      String eventId,
      ChargeJournal.Ticket ticket) {
    this.metering = metering;
    this.journal = journal;
    this.accountId = accountId;
    this.eventId = eventId;
    this.ticket = ticket;
  }

  String eventId() {
    return eventId;
  }

  ChargeJournal.Ticket ticket() {
    return ticket;
  }

  @Override
  public boolean awaitDurable(Duration timeout) {
    try {
      return journal.awaitDurable(ticket, timeout.toNanos());
    } catch (UncheckedIOException e) {
      throw new LedgerUnavailableException("the charge journal cannot be synced", e);
    }
  }

  @Override
  public ChargeResult charge(ChargeRequest request) {
    return metering.charge(request, this);
  }

  /** Its charge's journal record now ends the intent: closing it records nothing more. */
  void link() {
    linked = true;
  }

  /** Its charge is durable: the intent's record is done. */
  void settle() {
    linked = true;
    journal.done(ticket);
  }

  @Override
  public void close() {
    if (linked || !closedOnce.compareAndSet(false, true)) {
      return;
    }
    try {
      journal.doneWhenGone(journal.voided(accountId, eventId), ticket);
    } catch (RuntimeException e) {
      // Without the void record the intent stays open: charged its estimate only after a reboot.
      LOG.warn(
          "cannot journal the end of an uncharged call, event_id={}: {}", eventId, e.toString());
    }
    journal.done(ticket);
  }
}

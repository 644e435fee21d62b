package dev.creditgate.ledger;

import dev.creditgate.pricing.Quote;

/**
 * What became of a charge.
 *
 * @param entry the ledger entry, or {@code null} when the charge was queued or spooled
 * @param quote the price applied
 */
public record ChargeResult(Status status, LedgerEntry entry, Quote quote) {

  public enum Status {
    /** Written to the ledger now. */
    APPLIED,
    /**
     * The same event id was charged before with the same payload; {@code entry} is the original.
     */
    REPLAYED,
    /** The ledger could not be written; the charge is in the durable spool and will be replayed. */
    SPOOLED,
    /**
     * Accepted and journaled (it survives a crash of the process); the database write follows in
     * the background, within milliseconds (write-behind).
     */
    QUEUED
  }
}

package dev.creditgate.ledger.jdbc;

/**
 * What became of one charge of a group commit: written (or found written) with the batch, or
 * refused alone.
 */
sealed interface BatchOutcome {

  /** The charge's entry, written by this batch or stored before under its event id. */
  record Written(EntryOutcome outcome) implements BatchOutcome {}

  /** The ledger refused the charge (nothing was written for it); the rest of the batch stands. */
  record Refused(RuntimeException error) implements BatchOutcome {}
}

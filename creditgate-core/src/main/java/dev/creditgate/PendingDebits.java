package dev.creditgate;

/**
 * Debits an account owes that its cached or stored snapshot does not show yet: charges accepted and
 * queued behind earlier answers (write-behind), or committed by this process at a version newer
 * than the snapshot. The guard subtracts them from the snapshot's credit before judging, so an
 * account sees its own charges without waiting for them to be written.
 *
 * <p>Implementations answer from memory, without I/O, in well under a microsecond: the guard calls
 * this on every decision.
 */
@FunctionalInterface
public interface PendingDebits {

  /** No pending debits: the snapshot is the whole truth. */
  PendingDebits NONE = (accountId, snapshot) -> 0;

  /**
   * The credits {@code snapshot} does not reflect yet for {@code accountId}; zero or more, and
   * never counting a debit the snapshot already includes (a debit counted twice would deny an
   * account that can still spend).
   */
  long pendingDebits(String accountId, CreditSnapshot snapshot);
}

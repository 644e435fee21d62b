package dev.creditgate.ledger;

import java.util.List;

/**
 * Credits spent over time, read from the ledger's entries: the series a console charts. A role of
 * its own, so a ledger that cannot aggregate its entries cheaply need not offer it.
 *
 * <p>What is counted: an account's {@code CHARGE} entries, less its {@code REFUND} entries, each in
 * the bucket of the time it was recorded. A refund is put in its charge's group (the charge's model
 * or alias), in the bucket the refund was made in, so a past bucket never changes and a bucket's
 * credits can be negative when it holds refunds of older charges. Grants, adjustments, blocks and
 * unblocks are not spending and are left out. Only committed entries count: a charge still queued
 * or spooled in a gateway shows up once it is written.
 */
public interface SpendSeries {

  /**
   * The buckets of {@code query} that hold at least one charge or refund (empty ones are left out),
   * ordered by start, then by group. Bounded by the ledger's statement timeout.
   *
   * @throws ArithmeticException when a bucket's sum does not fit in a long
   * @throws LedgerUnavailableException when the ledger's database cannot be reached
   */
  List<SpendBucket> spend(SpendQuery query);
}

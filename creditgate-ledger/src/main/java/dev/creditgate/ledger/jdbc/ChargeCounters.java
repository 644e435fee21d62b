package dev.creditgate.ledger.jdbc;

import java.util.concurrent.atomic.LongAdder;

/**
 * The charge counters {@link dev.creditgate.ledger.LedgerStats} reports, shared by the parts that
 * count.
 */
final class ChargeCounters {
  /** Charges spooled because the database could not be written. */
  final LongAdder spooled = new LongAdder();

  /** Spooled charges since written to the database. */
  final LongAdder replayed = new LongAdder();

  /** Charges the ledger refused after accepting them, set aside in the rejected file. */
  final LongAdder rejected = new LongAdder();

  /** Charges no price rule matched, recorded at cost 0. */
  final LongAdder unpriced = new LongAdder();

  /** Transactions group commit wrote, the charges they carried and the time they took. */
  final LongAdder groupCommits = new LongAdder();

  final LongAdder groupCommitCharges = new LongAdder();
  final LongAdder groupCommitNanos = new LongAdder();
}

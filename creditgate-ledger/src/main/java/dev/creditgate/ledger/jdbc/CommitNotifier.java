package dev.creditgate.ledger.jdbc;

import dev.creditgate.CreditSnapshot;
import dev.creditgate.internal.ThrottledLog;
import dev.creditgate.ledger.LedgerCommitListener;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells what each commit left in its accounts, first to the write-behind queue (which then stops
 * counting the committed charges as pending) and then to the commit listener. A failing listener
 * never fails the ledger operation: it is counted and logged, at most once a second.
 */
final class CommitNotifier {

  private static final Logger LOG = LoggerFactory.getLogger(CommitNotifier.class);

  private final WriteBehindQueue queue;
  private final LedgerCommitListener listener;
  private final AtomicLong failures = new AtomicLong();

  /**
   * A listener whose cache is down fails every commit: one warning per second, not one per commit.
   */
  private final ThrottledLog warnings = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  CommitNotifier(WriteBehindQueue queue, LedgerCommitListener listener) {
    this.queue = queue;
    this.listener = listener;
  }

  /**
   * After a commit, first: the write-behind queue learns it. {@code states} are the committed
   * states of the accounts it changed, one per account; {@code carried} are the queued charges it
   * wrote.
   */
  void uncount(Map<String, CreditSnapshot> states, List<PendingCharge> carried) {
    if (!states.isEmpty()) {
      queue.committed(states, carried);
    }
  }

  /** After a commit, then: the commit listener learns it (after {@link #uncount}). */
  void tell(Map<String, CreditSnapshot> states) {
    if (states.isEmpty()) {
      return;
    }
    try {
      listener.committed(states);
    } catch (RuntimeException e) {
      failures.incrementAndGet();
      warnings.warn(
          System.nanoTime(),
          "ledger commit listener failed for {} accounts: {}",
          states.size(),
          e.toString());
    }
  }

  /** Listener calls that threw. */
  long failures() {
    return failures.get();
  }
}

package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.LedgerUnavailableException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The in-memory copy of a small table: read on first use, refreshed in the background once older
 * than its interval on a monotonic ticker, served stale while the database is away, read again at
 * once after an invalidation.
 */
class RefreshingReadTest {

  final AtomicLong nanos = new AtomicLong(1_000);
  final AtomicInteger reads = new AtomicInteger();
  final AtomicBoolean databaseAway = new AtomicBoolean();

  final RefreshingRead<Integer> table =
      new RefreshingRead<>(
          "test-table",
          () -> {
            if (databaseAway.get()) {
              throw new LedgerUnavailableException("database away", null);
            }
            return reads.incrementAndGet();
          },
          nanos::get,
          Duration.ofSeconds(10));

  @Test
  void readsOnFirstUseThenRefreshesInTheBackgroundOnceOlderThanItsInterval() {
    assertThat(table.get()).isEqualTo(1);
    nanos.addAndGet(Duration.ofSeconds(9).toNanos());
    assertThat(table.get()).as("younger than its interval").isEqualTo(1);
    assertThat(reads).hasValue(1);
    nanos.addAndGet(Duration.ofSeconds(1).toNanos());
    // The caller that finds it old goes on with the value in hand; the read runs behind it.
    assertThat(table.get()).isEqualTo(1);
    await().atMost(Duration.ofSeconds(5)).until(() -> table.get() == 2);
  }

  @Test
  void aWallClockStepDoesNotMatterOnlyTheTickerDoes() {
    // No wall clock is consulted: without the ticker moving, however long the test runs, no
    // refresh.
    assertThat(table.get()).isEqualTo(1);
    for (int i = 0; i < 100; i++) {
      table.get();
    }
    assertThat(reads).hasValue(1);
  }

  @Test
  void whileTheDatabaseIsAwayTheValueInHandServes() throws Exception {
    assertThat(table.get()).isEqualTo(1);
    databaseAway.set(true);
    nanos.addAndGet(Duration.ofSeconds(11).toNanos());
    for (int i = 0; i < 10; i++) {
      assertThat(table.get()).isEqualTo(1);
      Thread.sleep(10);
    }
    databaseAway.set(false);
    nanos.addAndGet(Duration.ofSeconds(11).toNanos());
    await().atMost(Duration.ofSeconds(5)).until(() -> table.get() == 2);
  }

  @Test
  void anInvalidationReadsAgainAtOnce() {
    assertThat(table.get()).isEqualTo(1);
    table.invalidate();
    assertThat(table.get()).isEqualTo(2);
  }
}

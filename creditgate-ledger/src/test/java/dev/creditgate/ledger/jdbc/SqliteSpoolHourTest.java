package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The database away for a stretch at 1,000 charges/s, time compressed (the charges are spooled in
 * batches of a second's worth, as the journal's recovery spools them, rather than one fsync each):
 * the spool's heap stays at a few bytes per charge, a restart reads it back, and every charge is
 * replayed exactly once. CI spools two minutes' worth (120,000 charges); {@code
 * -Dcreditgate.spoolHour.charges=3600000} spools the hour.
 */
class SqliteSpoolHourTest {

  static final int ACCOUNTS = 1_000;
  static final Quote QUOTE = new Quote(2_000, 2, 1, false);

  @TempDir Path directory;

  static long usedHeap() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  @Test
  void aLongOutagesSpoolIsBoundedInMemoryAndReplayedOnceAfterARestart() throws Exception {
    int charges = Integer.getInteger("creditgate.spoolHour.charges", 120_000);
    Path spoolDirectory = directory.resolve("spool");
    String url = "jdbc:sqlite:" + directory.resolve("ledger.db");
    long before = usedHeap();
    long spooledAt = System.nanoTime();
    try (ChargeSpool spool = new ChargeSpool(spoolDirectory)) {
      Instant start = Instant.parse("2026-12-01T00:00:00Z");
      List<SpoolRecord> second = new ArrayList<>(1_000);
      for (int n = 0; n < charges; n++) {
        ChargeRequest request =
            new ChargeRequest(
                "acct-" + (n % ACCOUNTS),
                "ev-" + n,
                "req-" + n,
                "default",
                "openai",
                "gpt-test",
                new Usage(1000, 500, 0, 0),
                false,
                "{}");
        second.add(new SpoolRecord(start.plusMillis(n), request, QUOTE));
        if (second.size() == 1_000) {
          spool.appendAll(second);
          second.clear();
        }
      }
      spool.appendAll(second);
      second.clear();
      long heap = usedHeap() - before;
      System.out.printf(
          "spooled %d charges in %d ms, %d bytes on disk, %d bytes of heap%n",
          charges, Duration.ofNanos(System.nanoTime() - spooledAt).toMillis(), spool.bytes(), heap);
      assertThat(spool.size()).isEqualTo(charges);
      assertThat(heap)
          .as("heap of %d spooled charges", charges)
          .isLessThan(charges * 16L + (16 << 20));
      assertThat(spool.contains("acct-7", "ev-" + (charges - 993))).isTrue();
    }
    long replayedAt = System.nanoTime();
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder().jdbcUrl(url).spoolDirectory(spoolDirectory).build()) {
      long heap = usedHeap() - before;
      System.out.printf("restarted on the spool: %d bytes of heap%n", heap);
      assertThat(heap)
          .as("heap of a ledger restarted on %d spooled charges", charges)
          .isLessThan(charges * 16L + (64 << 20));
      // Drained at least as fast as the outage filled it (1,000 charges/s), plus a minute.
      await()
          .atMost(Duration.ofMillis(charges).plusMinutes(1))
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> ledger.stats().spoolPending() == 0);
      System.out.printf(
          "replayed %d charges in %d ms%n",
          charges, Duration.ofNanos(System.nanoTime() - replayedAt).toMillis());
      assertThat(ledger.stats().replayedTotal()).isEqualTo(charges);
      assertThat(ledger.stats().rejectedTotal()).isZero();
    }
    try (Connection c = DriverManager.getConnection(url);
        Statement s = c.createStatement();
        ResultSet rows =
            s.executeQuery(
                "SELECT count(*), count(DISTINCT event_id), sum(amount) FROM entries"
                    + " WHERE kind = 'CHARGE'")) {
      rows.next();
      assertThat(rows.getLong(1)).as("charges written").isEqualTo(charges);
      assertThat(rows.getLong(2)).as("distinct event ids").isEqualTo(charges);
      assertThat(rows.getLong(3)).isEqualTo(-2L * charges);
    }
    assertThat(ChargeSpool.segmentFiles(spoolDirectory)).isEmpty();
  }
}

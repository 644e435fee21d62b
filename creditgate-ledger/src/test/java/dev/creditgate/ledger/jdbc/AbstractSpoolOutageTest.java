package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.Lease;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Takes the database away mid-run, charges on, brings it back, and checks that every charge was
 * applied exactly once: none lost, none doubled, even when a client retried during the outage.
 */
abstract class AbstractSpoolOutageTest {

  static final Usage USAGE = AbstractCreditLedgerContractTest.EXAMPLE_USAGE;
  static final long CREDITS = AbstractCreditLedgerContractTest.EXAMPLE_CREDITS;

  @TempDir Path spoolDirectory;

  String scene;
  String account;

  /** A JDBC URL of a database that {@link #takeDatabaseAway()} can take away. */
  abstract String jdbcUrl() throws Exception;

  abstract void takeDatabaseAway() throws Exception;

  abstract void bringDatabaseBack() throws Exception;

  @BeforeEach
  void names() {
    scene = "scene-" + UUID.randomUUID();
    account = "acct-" + UUID.randomUUID();
  }

  @AfterEach
  void restore() throws Exception {
    bringDatabaseBack();
  }

  JdbcCreditLedger open() throws Exception {
    return open(Duration.ofMillis(100));
  }

  JdbcCreditLedger open(Duration replayInterval) throws Exception {
    return JdbcCreditLedger.builder()
        .jdbcUrl(jdbcUrl())
        .spoolDirectory(spoolDirectory)
        .connectionTimeout(Duration.ofSeconds(2))
        .statementTimeout(Duration.ofSeconds(1))
        .replayInterval(replayInterval)
        .build();
  }

  ChargeRequest charge(int n) {
    return new ChargeRequest(
        account, "c" + n, "req-" + n, scene, "openai", "gpt-test", USAGE, false, "{}");
  }

  @Test
  void chargesDuringAnOutageAreSpooledAndAppliedExactlyOnce() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      for (int n = 0; n < 10; n++) {
        assertThat(ledger.charge(charge(n)).status()).isEqualTo(ChargeResult.Status.APPLIED);
      }

      takeDatabaseAway();
      List<ChargeResult> during = new ArrayList<>();
      for (int n = 10; n < 30; n++) {
        during.add(ledger.charge(charge(n)));
      }
      // Client retries during the outage: one already applied, one already spooled.
      during.add(ledger.charge(charge(5)));
      during.add(ledger.charge(charge(12)));
      assertThat(during)
          .allSatisfy(
              result -> {
                assertThat(result.status()).isEqualTo(ChargeResult.Status.SPOOLED);
                assertThat(result.entry()).isNull();
                assertThat(result.quote().credits()).isEqualTo(CREDITS);
              });
      assertThat(ledger.stats().spoolPending()).isEqualTo(22);
      assertThat(ledger.stats().spooledTotal()).isEqualTo(22);
      // A reused idempotency key is recognised while its charge waits in the spool, without the
      // database.
      assertThat(ledger.eventRecorded(account, "c12")).isTrue();
      assertThat(ledger.stats().spoolBytes()).isPositive();
      Thread.sleep(300);
      assertThat(ledger.stats().spoolPending())
          .as("nothing replays while the database is away")
          .isEqualTo(22);
      assertThat(ledger.stats().replayLag()).isGreaterThanOrEqualTo(Duration.ofMillis(300));

      bringDatabaseBack();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);

      assertThat(ledger.stats().replayedTotal()).isEqualTo(22);
      assertThat(ledger.stats().replayLag()).isZero();
      assertAppliedExactlyOnce(ledger, 30);
      assertThat(ledger.eventRecorded(account, "c12")).isTrue();
      assertThat(ledger.eventRecorded(account, "c99")).isFalse();
      assertThat(ledger.charge(charge(30)).status()).isEqualTo(ChargeResult.Status.APPLIED);
    }
  }

  @Test
  void aFullSpoolMakesTheMeterRefuseCallsUntilItDrains() throws Exception {
    dev.creditgate.InMemoryCreditCache cache = dev.creditgate.InMemoryCreditCache.create();
    try (dev.creditgate.SnapshotPublisher publisher =
            dev.creditgate.SnapshotPublisher.builder(cache).build();
        JdbcCreditLedger ledger =
            JdbcCreditLedger.builder()
                .jdbcUrl(jdbcUrl())
                .spoolDirectory(spoolDirectory)
                .spoolCapacity(2)
                .connectionTimeout(Duration.ofSeconds(2))
                .statementTimeout(Duration.ofSeconds(1))
                .replayInterval(Duration.ofMillis(100))
                .commitListener(publisher::publishAll)
                .build();
        dev.creditgate.CreditBalanceGuard guard =
            dev.creditgate.CreditBalanceGuard.builder()
                .cache(cache)
                .publisher(publisher)
                .snapshotProvider(ledger)
                .pendingDebits(ledger)
                .build();
        dev.creditgate.ledger.LedgerCreditMeter meter =
            dev.creditgate.ledger.LedgerCreditMeter.builder()
                .guard(guard)
                .ledger(ledger)
                .mode(dev.creditgate.meter.CreditMode.CHECK)
                .build()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      dev.creditgate.BillingContext call =
          new dev.creditgate.BillingContext(account, "", scene, "", "", "pro", false);
      dev.creditgate.meter.Estimate estimate =
          new dev.creditgate.meter.Estimate("openai", "gpt-test", 10, 10, 1);
      takeDatabaseAway();
      assertThat(ledger.charge(charge(0)).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      try (var open = meter.open(call, estimate)) {
        assertThat(open.admission().isAdmitted()).isTrue();
      }
      assertThat(ledger.charge(charge(1)).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      assertThat(ledger.acceptsCharges()).isFalse();
      try (var refused = meter.open(call, estimate)) {
        assertThat(refused.admission().reason())
            .isEqualTo(dev.creditgate.Admission.Reason.DENIED_UNAVAILABLE);
      }
      bringDatabaseBack();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
      assertThat(ledger.acceptsCharges()).isTrue();
      try (var open = meter.open(call, estimate)) {
        assertThat(open.admission().isAdmitted()).isTrue();
      }
      assertAppliedExactlyOnce(ledger, 2);
    }
  }

  @Test
  void theSpoolSurvivesARestartAndIsReplayedOnStart() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      takeDatabaseAway();
      for (int n = 0; n < 5; n++) {
        assertThat(ledger.charge(charge(n)).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      }
    }
    assertThat(lines(spoolDirectory)).hasSize(5);

    bringDatabaseBack();
    try (JdbcCreditLedger restarted = open()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> restarted.stats().spoolPending() == 0);
      assertAppliedExactlyOnce(restarted, 5);
    }
    assertThat(lines(spoolDirectory)).isEmpty();
  }

  @Test
  void aSpooledChargeWhoseKeyAnotherCallChargedIsChargedUnderAnIdOfItsOwn() throws Exception {
    Path otherSpool = spoolDirectory.resolve("other-process");
    try (JdbcCreditLedger ledger = open(Duration.ofHours(1))) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      assertThat(ledger.charge(charge(0)).status()).isEqualTo(ChargeResult.Status.APPLIED);
      takeDatabaseAway();
      // This process served a call under the key "k" and could only spool its charge.
      ChargeRequest mine =
          new ChargeRequest(
              account,
              "k",
              "req-mine",
              scene,
              "openai",
              "gpt-test",
              new Usage(2000, 1000, 0, 0),
              false,
              "{\"alias\":\"pro\"}");
      assertThat(ledger.charge(mine).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      assertThat(ledger.charge(charge(1)).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      bringDatabaseBack();
      // Meanwhile another process served another call under the same key and charged it first.
      try (JdbcCreditLedger other =
          JdbcCreditLedger.builder().jdbcUrl(jdbcUrl()).spoolDirectory(otherSpool).build()) {
        ChargeRequest theirs =
            new ChargeRequest(
                account, "k", "req-theirs", scene, "openai", "gpt-test", USAGE, false, "{}");
        assertThat(other.charge(theirs).status()).isEqualTo(ChargeResult.Status.APPLIED);
      }
      // The pool's connections from before the outage may fail once: replayed until drained.
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.replaySpool() == 0);

      assertThat(ledger.stats().rejectedTotal()).as("nothing set aside").isZero();
      assertThat(ledger.stats().replayedTotal()).isEqualTo(2);
      assertThat(spoolDirectory.resolve(ChargeSpool.REJECTED_FILE)).doesNotExist();
      assertThat(ledger.entry(account, "k").orElseThrow().requestId()).isEqualTo("req-theirs");
      List<LedgerEntry> own = ownIdCharges(ledger);
      assertThat(own)
          .singleElement()
          .satisfies(
              e -> {
                assertThat(e.requestId()).isEqualTo("req-mine");
                assertThat(e.usage().inputTokens()).isEqualTo(2000);
                assertThat(e.metadata())
                    .contains("\"idempotency_key\":\"k\"")
                    .contains("\"alias\":\"pro\"");
              });
    }
    // A crash between writing a replayed charge and dropping it from the spool replays it again:
    // its own id is the same, so it is not charged twice.
    try (ChargeSpool spool = new ChargeSpool(spoolDirectory)) {
      spool.append(
          new SpoolRecord(
              java.time.Instant.now(),
              new ChargeRequest(
                  account,
                  "k",
                  "req-mine",
                  scene,
                  "openai",
                  "gpt-test",
                  new Usage(2000, 1000, 0, 0),
                  false,
                  "{\"alias\":\"pro\"}"),
              null));
    }
    try (JdbcCreditLedger ledger = open()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
      assertThat(ownIdCharges(ledger)).hasSize(1);
      assertThat(ledger.stats().rejectedTotal()).isZero();
      long creditsMine =
          ledger.quote(scene, "openai", "gpt-test", new Usage(2000, 1000, 0, 0)).credits();
      assertThat(ledger.account(account).orElseThrow().balance())
          .isEqualTo(1_000 - 3 * CREDITS - creditsMine);
    }
  }

  private List<LedgerEntry> ownIdCharges(JdbcCreditLedger ledger) {
    return ledger.entries(account, null, 1000).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .filter(e -> e.eventId().startsWith(ChargeRequest.OWN_ID_PREFIX))
        .toList();
  }

  @Test
  void chargesDuringAnOutageOfManyWritersAreAllAppliedOnce() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      List<java.util.concurrent.Callable<Void>> writers = new ArrayList<>();
      java.util.concurrent.atomic.AtomicInteger next =
          new java.util.concurrent.atomic.AtomicInteger();
      for (int t = 0; t < 4; t++) {
        writers.add(
            () -> {
              for (int n; (n = next.getAndIncrement()) < 40; ) {
                if (n == 10) {
                  takeDatabaseAway();
                } else if (n == 30) {
                  bringDatabaseBack();
                }
                // Every charge is either written now or durably spooled; never refused, never lost.
                assertThat(ledger.charge(charge(n)).status())
                    .isIn(ChargeResult.Status.APPLIED, ChargeResult.Status.SPOOLED);
              }
              return null;
            });
      }
      AbstractCreditLedgerContractTest.runAll(writers);
      bringDatabaseBack();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
      assertAppliedExactlyOnce(ledger, 40);
    }
  }

  @Test
  void aLongSpoolIsReplayedManyChargesPerTransaction() throws Exception {
    // One charge per transaction would drain a spool slower than a busy gateway fills it.
    int charges = 600;
    try (JdbcCreditLedger ledger = open(Duration.ofHours(1))) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000_000, "g1", "admin", "");
      // Reads the price rules, which then serve while the database is away.
      assertThat(ledger.charge(charge(charges)).status()).isEqualTo(ChargeResult.Status.APPLIED);
      takeDatabaseAway();
      for (int n = 0; n < charges; n++) {
        assertThat(ledger.charge(charge(n)).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      }
      bringDatabaseBack();
      long commitsBefore = ledger.stats().groupCommits();
      // The first passes may meet connections the outage broke.
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.replaySpool() == 0);
      long commits = ledger.stats().groupCommits() - commitsBefore;
      assertThat(commits)
          .as("transactions for %d spooled charges", charges)
          .isLessThan(charges / 10);
      assertThat(ledger.stats().replayedTotal()).isEqualTo(charges);
      assertThat(
              ledger.entries(account, null, 1000).items().stream()
                  .filter(e -> e.kind() == EntryKind.CHARGE)
                  .map(LedgerEntry::eventId)
                  .distinct()
                  .count())
          .isEqualTo(charges + 1);
      assertThat(ledger.account(account).orElseThrow().balance())
          .isEqualTo(1_000_000 - (charges + 1) * CREDITS);
    }
  }

  static final Duration LEASE_TERM = Duration.ofSeconds(30);

  /** The lines of every segment of a spool directory. */
  static List<String> lines(Path spool) throws Exception {
    List<String> lines = new ArrayList<>();
    for (Path segment : ChargeSpool.segmentFiles(spool)) {
      lines.addAll(Files.readAllLines(segment));
    }
    return lines;
  }

  /** A ledger on {@code clock} whose spool is replayed when the test asks (and at its start). */
  JdbcCreditLedger onClock(Path spool, SettableClock clock, boolean writeBehind) throws Exception {
    return JdbcCreditLedger.builder()
        .jdbcUrl(jdbcUrl())
        .spoolDirectory(spool)
        .connectionTimeout(Duration.ofSeconds(2))
        .statementTimeout(Duration.ofSeconds(1))
        .replayInterval(Duration.ofHours(1))
        .writeBehind(writeBehind)
        .clock(clock)
        .build();
  }

  private long overrun(JdbcCreditLedger ledger, String eventId) {
    return EntryDraft.overrunOf(ledger.entry(account, eventId).orElseThrow().metadata());
  }

  @Test
  void chargesSpooledUnderALeaseThatExpiredDuringTheOutageAreRecordedAsOverrun() throws Exception {
    // The process's lease expired while its charges waited in the spool, and another process
    // leased the credit those charges had used: replayed, they are beyond what held their calls,
    // and each entry says by how much. Replayed many per transaction all the same.
    SettableClock clock = new SettableClock(Instant.parse("2026-12-01T00:00:00Z"));
    int charges = 300;
    long granted = (charges + 1) * CREDITS;
    try (JdbcCreditLedger ledger = onClock(spoolDirectory, clock, false);
        JdbcCreditLedger other = onClock(spoolDirectory.resolve("other"), clock, false)) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, granted, "g1", "admin", "");
      assertThat(ledger.extend(account, granted, 0, LEASE_TERM).credits()).isEqualTo(granted);
      assertThat(ledger.charge(charge(charges)).status()).isEqualTo(ChargeResult.Status.APPLIED);
      takeDatabaseAway();
      for (int n = 0; n < charges; n++) {
        assertThat(ledger.charge(charge(n)).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      }
      clock.advance(LEASE_TERM.plusSeconds(1));
      bringDatabaseBack();
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .until(() -> other.extend(account, granted, 0, LEASE_TERM).credits() > 0);
      assertThat(other.leases(account))
          .singleElement()
          .satisfies(l -> assertThat(l.credits()).isEqualTo(granted - CREDITS));
      long commitsBefore = ledger.stats().groupCommits();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.replaySpool() == 0);
      assertThat(ledger.stats().groupCommits() - commitsBefore).isLessThan(charges / 10);
      long overruns = 0;
      for (int n = 0; n < charges; n++) {
        assertThat(overrun(ledger, "c" + n)).as("overrun of c%d", n).isEqualTo(CREDITS);
        overruns += overrun(ledger, "c" + n);
      }
      assertThat(overrun(ledger, "c" + charges)).isZero();
      long charged = granted - ledger.account(account).orElseThrow().balance();
      long held = other.leases(account).stream().mapToLong(Lease::credits).sum();
      assertThat(charged + held).isLessThanOrEqualTo(granted + overruns);
    }
  }

  @Test
  void chargesSpooledUnderALeaseStillLiveAreTakenOutOfItWithoutOverrun() throws Exception {
    SettableClock clock = new SettableClock(Instant.parse("2026-12-01T00:00:00Z"));
    try (JdbcCreditLedger ledger = onClock(spoolDirectory, clock, false)) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 100, "g1", "admin", "");
      ledger.extend(account, 50, 0, LEASE_TERM);
      assertThat(ledger.charge(charge(5)).status()).isEqualTo(ChargeResult.Status.APPLIED);
      takeDatabaseAway();
      for (int n = 0; n < 5; n++) {
        assertThat(ledger.charge(charge(n)).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      }
      bringDatabaseBack();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.replaySpool() == 0);
      for (int n = 0; n < 5; n++) {
        assertThat(overrun(ledger, "c" + n)).isZero();
      }
      assertThat(ledger.leases(account))
          .singleElement()
          .satisfies(l -> assertThat(l.credits()).isEqualTo(50 - 6 * CREDITS));
    }
  }

  @Test
  void aDeadProcesssQueuedChargesReplayedAfterItsLeaseExpiredAreRecordedAsOverrun()
      throws Exception {
    // Write-behind: the charges were acknowledged, their commits failed, they went to the spool,
    // and the process stopped. Restarted after its lease expired and another process leased the
    // credit, it charges them beyond any lease: overrun.
    SettableClock clock = new SettableClock(Instant.parse("2026-12-01T00:00:00Z"));
    try (JdbcCreditLedger other = onClock(spoolDirectory.resolve("other"), clock, false)) {
      try (JdbcCreditLedger ledger = onClock(spoolDirectory, clock, true)) {
        ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
        ledger.grant(account, 20, "g1", "admin", "");
        ledger.extend(account, 20, 0, LEASE_TERM);
        assertThat(ledger.charge(charge(5)).status()).isEqualTo(ChargeResult.Status.QUEUED);
        assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
        takeDatabaseAway();
        for (int n = 0; n < 5; n++) {
          assertThat(ledger.charge(charge(n)).status()).isEqualTo(ChargeResult.Status.QUEUED);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 5);
      }
      clock.advance(LEASE_TERM.plusSeconds(1));
      bringDatabaseBack();
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .until(() -> other.extend(account, 20, 0, LEASE_TERM).credits() == 20 - CREDITS);
      try (JdbcCreditLedger restarted = onClock(spoolDirectory, clock, true)) {
        await().atMost(Duration.ofSeconds(30)).until(() -> restarted.replaySpool() == 0);
        for (int n = 0; n < 5; n++) {
          assertThat(overrun(restarted, "c" + n)).as("overrun of c%d", n).isEqualTo(CREDITS);
        }
        assertThat(restarted.account(account).orElseThrow().balance()).isEqualTo(20 - 6 * CREDITS);
      }
    }
  }

  private void assertAppliedExactlyOnce(JdbcCreditLedger ledger, int charges) {
    List<LedgerEntry> entries = ledger.entries(account, null, 1000).items();
    List<String> chargeEvents =
        entries.stream()
            .filter(e -> e.kind() == EntryKind.CHARGE)
            .map(LedgerEntry::eventId)
            .toList();
    assertThat(chargeEvents).hasSize(charges).doesNotHaveDuplicates();
    for (int n = 0; n < charges; n++) {
      assertThat(chargeEvents).contains("c" + n);
    }
    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.balance()).isEqualTo(1_000 - charges * CREDITS);
    assertThat(stored.version()).isEqualTo(charges + 1);
    assertThat(ledger.verify(account).consistent()).isTrue();
  }
}

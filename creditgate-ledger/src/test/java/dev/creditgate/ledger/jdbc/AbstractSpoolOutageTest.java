package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
    return JdbcCreditLedger.builder()
        .jdbcUrl(jdbcUrl())
        .spoolDirectory(spoolDirectory)
        .connectionTimeout(Duration.ofSeconds(2))
        .statementTimeout(Duration.ofSeconds(1))
        .replayInterval(Duration.ofMillis(100))
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
    assertThat(Files.readAllLines(spoolDirectory.resolve(ChargeSpool.SPOOL_FILE))).hasSize(5);

    bringDatabaseBack();
    try (JdbcCreditLedger restarted = open()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> restarted.stats().spoolPending() == 0);
      assertAppliedExactlyOnce(restarted, 5);
    }
    assertThat(Files.readAllLines(spoolDirectory.resolve(ChargeSpool.SPOOL_FILE))).isEmpty();
  }

  @Test
  void aSpooledChargeThatConflictsIsSetAsideForAnOperator() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      assertThat(ledger.charge(charge(0)).status()).isEqualTo(ChargeResult.Status.APPLIED);
      takeDatabaseAway();
      ChargeRequest different =
          new ChargeRequest(
              account,
              "c0",
              "req-0",
              scene,
              "openai",
              "gpt-test",
              new Usage(1, 1, 0, 0),
              false,
              "{}");
      assertThat(ledger.charge(different).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      assertThat(ledger.charge(charge(1)).status()).isEqualTo(ChargeResult.Status.SPOOLED);
      bringDatabaseBack();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);

      assertThat(ledger.stats().rejectedTotal()).isEqualTo(1);
      assertThat(ledger.stats().replayedTotal()).isEqualTo(1);
      assertThat(Files.readString(spoolDirectory.resolve(ChargeSpool.REJECTED_FILE)))
          .contains("'c0'")
          .contains("different payload");
      assertAppliedExactlyOnce(ledger, 2);
    }
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

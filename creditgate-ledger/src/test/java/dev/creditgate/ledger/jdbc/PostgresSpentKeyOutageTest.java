package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.LedgerUnavailableException;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.IdempotencyKeyReusedException;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reused Idempotency-Key whose charge waits in the write-behind queue or the spool is spent while
 * PostgreSQL is away: {@code eventRecorded} answers from the queue and the spool, without the
 * database, and the meter refuses a second call under the key. The outage is a TCP proxy the test
 * cuts ({@link PostgresOutage}).
 */
class PostgresSpentKeyOutageTest {

  static final Usage USAGE = AbstractCreditLedgerContractTest.EXAMPLE_USAGE;
  static final long CREDITS = AbstractCreditLedgerContractTest.EXAMPLE_CREDITS;
  static final Estimate ESTIMATE = new Estimate("openai", "gpt-test", 100, 1000, 1);

  private static PostgresOutage outage;

  @TempDir Path directory;

  JdbcCreditLedger ledger;
  CreditBalanceGuard guard;
  LedgerCreditMeter meter;
  String account;
  String scene;

  @BeforeAll
  static void startProxy() throws Exception {
    outage = new PostgresOutage("spentkey");
  }

  @AfterAll
  static void stopProxy() {
    outage.close();
  }

  @BeforeEach
  void open() {
    account = "acct-" + UUID.randomUUID();
    scene = "scene-" + UUID.randomUUID();
    ledger = openLedger();
    guard =
        CreditBalanceGuard.builder()
            .cache(InMemoryCreditCache.create())
            .snapshotProvider(ledger)
            .pendingDebits(ledger)
            .build();
    meter =
        LedgerCreditMeter.builder()
            .guard(guard)
            .ledger(ledger)
            .prices(ledger)
            .store(ledger)
            .build();
    ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
    ledger.grant(account, 1_000, "g1", "admin", "");
  }

  /**
   * Write-behind, as the gateway runs it, with short timeouts: an outage is noticed in a second.
   */
  JdbcCreditLedger openLedger() {
    return JdbcCreditLedger.builder()
        .jdbcUrl(outage.url())
        .spoolDirectory(directory.resolve("spool"))
        .writeBehind(true)
        .connectionTimeout(Duration.ofSeconds(1))
        .statementTimeout(Duration.ofSeconds(1))
        .replayInterval(Duration.ofMillis(100))
        .build();
  }

  @AfterEach
  void close() {
    outage.restore();
    meter.close();
    ledger.close();
    guard.close();
  }

  BillingContext call(String eventId) {
    return new BillingContext(
        account, eventId, scene, "req-" + UUID.randomUUID(), "", "pro", false);
  }

  /** A call admitted and charged; its charge is acknowledged before the database has it. */
  void chargeCall(String eventId) {
    try (MeteredCall c = meter.open(call(eventId), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
      c.beforeRelay();
      assertThat(c.settle(USAGE, UsageSource.REPORTED).credits()).isEqualTo(CREDITS);
    }
  }

  void assertSpent(String eventId) {
    assertThat(ledger.eventRecorded(account, eventId)).as("recorded without the database").isTrue();
    assertThatThrownBy(() -> meter.open(call(eventId), ESTIMATE))
        .isInstanceOfSatisfying(
            IdempotencyKeyReusedException.class,
            e -> {
              assertThat(e.eventId()).isEqualTo(eventId);
              assertThat(e.inProgress()).as("charged before, not in progress").isFalse();
            });
  }

  List<LedgerEntry> charges() {
    assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    return ledger.entries(account, null, 100).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  @Test
  void aKeyWhoseChargeIsQueuedThenSpooledIsSpentWhileTheDatabaseIsDown() {
    // The price rules and the account's snapshot are read while the database is there.
    chargeCall("warm-up");
    assertThat(charges()).hasSize(1);

    outage.cut();
    chargeCall("X");
    // The database really is away: a key the ledger knows nothing of cannot be checked.
    assertThatThrownBy(() -> ledger.eventRecorded(account, "never-charged"))
        .isInstanceOf(LedgerUnavailableException.class);
    // Queued (or already spooled, should the committer have given up at once).
    assertSpent("X");

    // The committer gives up on the database and moves the charge to the spool.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> ledger.stats().spoolPending() == 1 && ledger.stats().queued() == 0);
    assertSpent("X");

    outage.restore();
    await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
    assertThat(charges())
        .extracting(LedgerEntry::eventId)
        .containsExactlyInAnyOrder("warm-up", "X");
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(1_000 - 2 * CREDITS);
    assertSpent("X");
  }

  @Test
  void aKeyWhoseChargeAnEarlierProcessSpooledIsSpentWhileTheDatabaseIsDown() {
    chargeCall("warm-up");
    assertThat(charges()).hasSize(1);
    outage.cut();
    chargeCall("Y");
    await().atMost(Duration.ofSeconds(20)).until(() -> ledger.stats().spoolPending() == 1);

    // A restart while the database is still away: the spool on disk is all the new process has.
    meter.close();
    ledger.close();
    guard.close();
    ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(outage.url())
            .spoolDirectory(directory.resolve("spool"))
            .writeBehind(true)
            .migrate(false)
            .connectionTimeout(Duration.ofSeconds(1))
            .statementTimeout(Duration.ofSeconds(1))
            .replayInterval(Duration.ofMillis(100))
            .build();
    guard =
        CreditBalanceGuard.builder()
            .cache(InMemoryCreditCache.create())
            .snapshotProvider(ledger)
            .pendingDebits(ledger)
            .build();
    meter =
        LedgerCreditMeter.builder()
            .guard(guard)
            .ledger(ledger)
            .prices(ledger)
            .store(ledger)
            .build();
    assertThat(ledger.stats().spoolPending()).isEqualTo(1);
    assertSpent("Y");

    outage.restore();
    await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
    assertThat(charges())
        .extracting(LedgerEntry::eventId)
        .containsExactlyInAnyOrder("warm-up", "Y");
    assertSpent("Y");
  }
}

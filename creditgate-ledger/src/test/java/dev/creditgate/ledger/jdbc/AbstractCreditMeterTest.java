package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerCreditMeterBuilder;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.IdempotencyKeyReusedException;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.ShortfallPolicy;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The credit meter over a real ledger (write-behind, as the gateway runs it): one call is admitted,
 * charged exactly once, and its event id cannot be used twice. Written as an attacker would try to
 * get a call free or charged twice.
 */
abstract class AbstractCreditMeterTest {

  static final Usage USAGE = AbstractCreditLedgerContractTest.EXAMPLE_USAGE;
  static final long CREDITS = AbstractCreditLedgerContractTest.EXAMPLE_CREDITS;
  static final Estimate ESTIMATE = new Estimate("openai", "gpt-test", 100, 1000, 1);

  @TempDir Path directory;

  JdbcCreditLedger ledger;
  CreditBalanceGuard guard;
  LedgerCreditMeter meter;
  String account;
  String scene;

  abstract String jdbcUrl();

  @BeforeEach
  void open() {
    ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(jdbcUrl())
            .spoolDirectory(directory.resolve("spool"))
            .writeBehind(true)
            .build();
    guard =
        CreditBalanceGuard.builder()
            .cache(InMemoryCreditCache.create())
            .snapshotProvider(ledger)
            .pendingDebits(ledger)
            .build();
    meter = meter(LedgerCreditMeter.builder());
    account = "acct-" + UUID.randomUUID();
    scene = "scene-" + UUID.randomUUID();
    ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
    ledger.grant(account, 1_000, "g1", "admin", "");
  }

  /** A meter over this test's guard and ledger, with {@code b}'s other options. */
  LedgerCreditMeter meter(LedgerCreditMeterBuilder b) {
    return b.guard(guard).ledger(ledger).prices(ledger).store(ledger).build();
  }

  @AfterEach
  void close() {
    meter.close();
    ledger.close();
    guard.close();
  }

  BillingContext call(String eventId) {
    return new BillingContext(
        account, eventId, scene, "req-" + UUID.randomUUID(), "", "pro", false);
  }

  List<LedgerEntry> charges() {
    assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    return ledger.entries(account, null, 1000).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  @Test
  void anAdmittedCallIsChargedOnceHoweverOftenItIsSettled() {
    Settlement first;
    try (MeteredCall c = meter.open(call("k1"), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
      c.beforeRelay();
      first = c.settle(USAGE, UsageSource.REPORTED);
      Settlement again = c.settle(new Usage(999_999, 999_999, 0, 0), UsageSource.REPORTED);
      assertThat(again).isSameAs(first);
      c.abandon("late");
    }
    assertThat(first.credits()).isEqualTo(CREDITS);
    assertThat(charges())
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.eventId()).isEqualTo("k1");
              assertThat(e.amount()).isEqualTo(-CREDITS);
              assertThat(e.metadata()).contains("\"alias\":\"pro\"");
            });
  }

  @Test
  void settlesRacingFromManyThreadsChargeOnce() throws Exception {
    ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
    try (MeteredCall c = meter.open(call("race"), ESTIMATE)) {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Settlement>> all = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        all.add(
            pool.submit(
                () -> {
                  go.await();
                  return c.settle(USAGE, UsageSource.REPORTED);
                }));
      }
      go.countDown();
      Settlement first = all.get(0).get();
      for (Future<Settlement> f : all) {
        assertThat(f.get()).isSameAs(first);
      }
    } finally {
      pool.shutdown();
    }
    assertThat(charges()).hasSize(1);
  }

  @Test
  void aKeyInUseIsRefusedAndSoIsAKeyAlreadyCharged() {
    try (MeteredCall c = meter.open(call("dup"), ESTIMATE)) {
      assertThatThrownBy(() -> meter.open(call("dup"), ESTIMATE))
          .isInstanceOfSatisfying(
              IdempotencyKeyReusedException.class,
              e -> {
                assertThat(e.inProgress()).isTrue();
                assertThat(e.eventId()).isEqualTo("dup");
              });
      c.settle(USAGE, UsageSource.REPORTED);
    }
    // The charge may still be queued behind the answer: the key is spent all the same.
    assertThatThrownBy(() -> meter.open(call("dup"), ESTIMATE))
        .isInstanceOfSatisfying(
            IdempotencyKeyReusedException.class, e -> assertThat(e.inProgress()).isFalse());
    assertThat(charges()).hasSize(1);
    assertThat(meter.openCalls()).isZero();
  }

  @Test
  void callsWithoutAKeyGetIdsOfTheirOwnAndAreEachCharged() {
    for (int i = 0; i < 3; i++) {
      try (MeteredCall c = meter.open(call(""), ESTIMATE)) {
        c.settle(USAGE, UsageSource.REPORTED);
      }
    }
    assertThat(charges())
        .hasSize(3)
        .allSatisfy(
            e -> assertThat(e.eventId()).startsWith(LedgerCreditMeter.DRAWN_EVENT_ID_PREFIX));
  }

  @Test
  void anAbandonedCallIsNotChargedAndItsKeyCanBeUsedAgain() {
    try (MeteredCall c = meter.open(call("a1"), ESTIMATE)) {
      c.abandon("upstream refused");
      assertThat(c.settle(USAGE, UsageSource.REPORTED).status())
          .isEqualTo(Settlement.Status.ABANDONED);
    }
    try (MeteredCall c = meter.open(call("a2"), ESTIMATE)) {
      // closed without settling: abandoned too
      assertThat(c.admission().isAdmitted()).isTrue();
    }
    assertThat(charges()).isEmpty();
    try (MeteredCall c = meter.open(call("a1"), ESTIMATE)) {
      c.settle(USAGE, UsageSource.REPORTED);
    }
    assertThat(charges()).hasSize(1);
  }

  @Test
  void anAccountNobodyOpenedIsDeniedAndNeverCharged() {
    BillingContext stranger =
        new BillingContext("nobody-" + UUID.randomUUID(), "s1", scene, "", "", "pro", false);
    try (MeteredCall c = meter.open(stranger, ESTIMATE)) {
      assertThat(c.admission().reason()).isEqualTo(Admission.Reason.DENIED_UNKNOWN_ACCOUNT);
      assertThat(c.settle(USAGE, UsageSource.REPORTED).credits()).isZero();
    }
    assertThat(ledger.account(stranger.accountId())).isEmpty();
    assertThat(meter.openCalls()).isZero();
  }

  @Test
  void aCallThatSkipsChargingIsAdmittedAndNotCharged() {
    try (MeteredCall c = meter.open(call("skip").withSkipCharge(true), ESTIMATE)) {
      assertThat(c.metered()).isFalse();
      assertThat(c.settle(USAGE, UsageSource.REPORTED)).isEqualTo(Settlement.NOT_METERED);
    }
    assertThat(charges()).isEmpty();
  }

  @Test
  void anExhaustedAccountIsDeniedBeforeItsLastChargesAreWritten() {
    ledger.adjust(account, -1_000 + CREDITS, "adj", "admin", "leave one call's worth");
    try (MeteredCall c = meter.open(call("last"), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
      c.settle(USAGE, UsageSource.REPORTED);
    }
    // The charge that emptied the account may still be queued: the guard counts it all the same.
    try (MeteredCall c = meter.open(call("over"), ESTIMATE)) {
      assertThat(c.admission().isDenied()).isTrue();
      assertThat(c.settle(USAGE, UsageSource.REPORTED).credits()).isZero();
    }
    assertThat(charges()).hasSize(1);
    assertThat(ledger.account(account).orElseThrow().balance()).isZero();
  }

  @Test
  void anEstimatedSettlementIsMarkedSo() {
    try (MeteredCall c = meter.open(call("est"), ESTIMATE)) {
      assertThat(c.settle(USAGE, UsageSource.ESTIMATED).estimated()).isTrue();
    }
    assertThat(charges()).singleElement().satisfies(e -> assertThat(e.estimated()).isTrue());
  }

  @Test
  void aKeyChargedByAnotherGatewayMeanwhileIsChargedUnderAnIdOfItsOwn() {
    // A ledger that commits before answering, where the conflict reaches the meter itself.
    try (JdbcCreditLedger direct =
            JdbcCreditLedger.builder()
                .jdbcUrl(jdbcUrl())
                .spoolDirectory(directory.resolve("spool-direct"))
                .build();
        LedgerCreditMeter sync =
            LedgerCreditMeter.builder().guard(guard).ledger(direct).prices(direct).build()) {
      try (MeteredCall c = sync.open(call("raced"), ESTIMATE)) {
        assertThat(c.admission().isAdmitted()).isTrue();
        // Another gateway serves and charges the same key first, with its own usage.
        direct.charge(
            new dev.creditgate.ledger.ChargeRequest(
                account,
                "raced",
                "other",
                scene,
                "openai",
                "gpt-test",
                new Usage(1, 1, 0, 0),
                false,
                "{}"));
        Settlement settled = c.settle(USAGE, UsageSource.REPORTED);
        assertThat(settled.status()).isEqualTo(Settlement.Status.APPLIED);
        assertThat(settled.credits()).isEqualTo(CREDITS);
      }
      List<LedgerEntry> charges =
          direct.entries(account, null, 10).items().stream()
              .filter(e -> e.kind() == EntryKind.CHARGE)
              .toList();
      assertThat(charges).hasSize(2);
      assertThat(charges)
          .anySatisfy(
              e -> {
                assertThat(e.eventId())
                    .startsWith(dev.creditgate.ledger.ChargeRequest.OWN_ID_PREFIX);
                assertThat(e.metadata()).contains("\"idempotency_key\":\"raced\"");
              });
    }
  }

  @Test
  void callsInFlightWhenTheProcessDiesAreChargedTheirHoldOnceAfterTheRestart() {
    // Room for one worst case (2 credits) and a call clamped to the last credit.
    ledger.adjust(account, -997, "adj", "admin", "leave three credits");
    LedgerCreditMeter clamping =
        meter(LedgerCreditMeter.builder().shortfall(ShortfallPolicy.CLAMP));
    MeteredCall whole = clamping.open(call("whole"), ESTIMATE);
    MeteredCall clamped = clamping.open(call("clamped"), ESTIMATE);
    assertThat(whole.admission().isAdmitted()).isTrue();
    assertThat(whole.clampedOutputTokens()).isEmpty();
    assertThat(clamped.admission().isAdmitted()).isTrue();
    long cap = clamped.clampedOutputTokens().orElseThrow();
    assertThat(cap).isLessThan(ESTIMATE.maxOutputTokens());
    whole.beforeRelay();
    clamped.beforeRelay();
    // The upstream is serving both when the process is killed: neither settles nor closes.
    ledger.crash();
    clamping.close();
    ledger = reopen();
    assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> ledger.stats().spoolPending() == 0);
    LedgerEntry wholeCharge = ledger.entry(account, "whole").orElseThrow();
    assertThat(wholeCharge.estimated()).isTrue();
    assertThat(wholeCharge.usage())
        .isEqualTo(new Usage(ESTIMATE.inputTokens(), ESTIMATE.totalOutputTokens(), 0, 0));
    assertThat(-wholeCharge.amount()).isPositive().isLessThanOrEqualTo(whole.reserved());
    LedgerEntry clampedCharge = ledger.entry(account, "clamped").orElseThrow();
    assertThat(clampedCharge.estimated()).isTrue();
    assertThat(clampedCharge.usage().outputTokens()).as("its lowered cap").isEqualTo(cap);
    assertThat(-clampedCharge.amount()).isPositive().isLessThanOrEqualTo(clamped.reserved());
    assertThat(charges()).hasSize(2);
    long balance = ledger.account(account).orElseThrow().balance();
    assertThat(balance).isGreaterThanOrEqualTo(0);
    // Opened again: nothing is charged twice.
    ledger.close();
    ledger = reopen();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> ledger.stats().spoolPending() == 0);
    assertThat(charges()).hasSize(2);
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(balance);
  }

  /** A ledger opened again on this test's database and spool directory, as after a restart. */
  JdbcCreditLedger reopen() {
    return JdbcCreditLedger.builder()
        .jdbcUrl(jdbcUrl())
        .spoolDirectory(directory.resolve("spool"))
        .writeBehind(true)
        .build();
  }
}

package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.ledger.CreditPolicy;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerCreditMeterBuilder;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.meter.CreditMode;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.MeterListener;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.ShortfallPolicy;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Usage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Strict credit over a real write-behind ledger: each call's worst case is held before it runs, so
 * concurrent calls can never spend more than the account has. Written as a user who wants more than
 * they paid for would try.
 */
abstract class AbstractStrictCreditTest {

  /**
   * One credit per 1,000 input tokens and two per 1,000 output tokens (at 1,000 credits a unit).
   */
  static PriceRule rule(String scene) {
    return new PriceRule(0, scene, "", "", 1000, 2000, 0, 0, 1000, 0, 0, true);
  }

  /** 1,000 input tokens and at most 4,500 output tokens: 1 + 9 = 10 credits at worst. */
  static final Estimate ESTIMATE = new Estimate("openai", "gpt-test", 1000, 4500, 1);

  static final long WORST = 10;

  @TempDir Path directory;

  JdbcCreditLedger ledger;
  SnapshotPublisher publisher;
  CreditBalanceGuard guard;
  final List<LedgerCreditMeter> meters = new ArrayList<>();
  String account;
  String scene;
  final AtomicLong fakeNanos = new AtomicLong();

  abstract String jdbcUrl();

  /** Whether the meters lease the accounts' credit from the ledger, as a fleet's processes do. */
  boolean leased() {
    return false;
  }

  @BeforeEach
  void open() {
    InMemoryCreditCache cache = InMemoryCreditCache.create();
    publisher = SnapshotPublisher.builder(cache).build();
    ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(jdbcUrl())
            .spoolDirectory(directory.resolve("spool"))
            .writeBehind(true)
            .commitListener(publisher::publishAll)
            .build();
    guard =
        CreditBalanceGuard.builder()
            .cache(cache)
            .publisher(publisher)
            .snapshotProvider(ledger)
            .pendingDebits(ledger)
            .build();
    account = "acct-" + UUID.randomUUID();
    scene = "scene-" + UUID.randomUUID();
    ledger.createPriceRule(rule(scene));
  }

  @AfterEach
  void close() {
    meters.forEach(LedgerCreditMeter::close);
    ledger.close();
    guard.close();
    publisher.close();
  }

  LedgerCreditMeter meter(ShortfallPolicy shortfall) {
    return meter(shortfall, new MeterListener() {});
  }

  LedgerCreditMeter meter(ShortfallPolicy shortfall, MeterListener listener) {
    LedgerCreditMeterBuilder b =
        LedgerCreditMeter.builder()
            .guard(guard)
            .ledger(ledger)
            .prices(ledger)
            .store(ledger)
            .shortfall(shortfall)
            .holdTimeout(Duration.ofSeconds(5))
            .policies(ledger)
            .listener(listener)
            .ticker(fakeNanos::get);
    if (leased()) {
      b.leases(ledger);
    }
    LedgerCreditMeter m = b.build();
    meters.add(m);
    return m;
  }

  BillingContext call() {
    return new BillingContext(account, "", scene, "", "", "pro", false);
  }

  long balance() {
    assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    return ledger.account(account).orElseThrow().balance();
  }

  @Test
  void theHoldIsTheWorstCase() {
    assertThat(ledger.worstCase(scene, "openai", "gpt-test", 1000, 4500).credits())
        .isEqualTo(WORST);
  }

  @Test
  void twoHundredConcurrentCallsOnCreditForTenAdmitTenAndNeverOverspend() throws Exception {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, 10 * WORST, "g1", "admin", "");
    // Every admitted call spends its whole worst case, after all have been admitted.
    int admitted =
        ConcurrentCalls.openTogether(
            List.of(meter), 200, this::call, ESTIMATE, new Usage(1000, 4500, 0, 0));
    assertThat(admitted).isEqualTo(10);
    assertThat(balance()).isZero();
    assertThat(meter.heldCredits()).isZero();
  }

  @Test
  void aBusyAccountsLeaseGrowsOncePerHalfSliceAndNoFurther() {
    Assumptions.assumeTrue(leased(), "only a leasing meter asks the ledger for credit");
    AtomicLong grown = new AtomicLong();
    MeterListener counting =
        new MeterListener() {
          @Override
          public void onLease(LeaseEvent event) {
            if (event == LeaseEvent.GROWN) {
              grown.incrementAndGet();
            }
          }
        };
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT, counting);
    ledger.grant(account, 1_000_000 * WORST, "g1", "admin", "");
    long slice = LedgerCreditMeter.DEFAULT_LEASE_SLICE_CALLS * WORST;
    int calls = 400;
    long mostLeased = 0;
    for (int i = 0; i < calls; i++) {
      try (MeteredCall c = meter.open(call(), ESTIMATE)) {
        assertThat(c.admission().isAdmitted()).as("call %d: %s", i, c.admission()).isTrue();
        c.settle(new Usage(1000, 4500, 0, 0), UsageSource.REPORTED);
      }
      mostLeased = Math.max(mostLeased, ledger.leaseRoom(account));
    }
    // Each call spends its whole worst case: a lease is grown by about a slice (8 calls by
    // default) in the background once less than half a slice is left, so once per 4 to 8 calls.
    // Calls made while such a growth is queued do not queue one each (each of which would grow the
    // lease by a slice, far beyond what the account spends).
    long sliceCalls = slice / WORST;
    assertThat(grown.get()).isBetween(calls / (2 * sliceCalls), calls / (sliceCalls / 2) + 2);
    // A growth's slice comes on top of what is left (under half a slice). Were a charge batch's
    // debits counted twice for a moment (in the lease and as unwritten), a growth would ask for
    // them again: up to 9 slices were leased so.
    assertThat(mostLeased).isLessThanOrEqualTo(3 * slice);
    assertThat(balance()).isEqualTo(1_000_000 * WORST - calls * WORST);
  }

  @Test
  void whileTheCacheFailsABusyAccountCostsTheStoreOneReadPerPeriodNotOnePerCall() {
    Assumptions.assumeTrue(leased(), "only a leasing meter keeps a store snapshot for a while");
    ledger.grant(account, 1_000 * WORST, "g1", "admin", "");
    CreditBalanceGuard blind = CreditBalanceGuard.builder().cache(new FailingCache()).build();
    AtomicLong reads = new AtomicLong();
    LedgerCreditMeter meter =
        LedgerCreditMeter.builder()
            .guard(blind)
            .ledger(ledger)
            .prices(ledger)
            .store(
                id -> {
                  reads.incrementAndGet();
                  return ledger.committedSnapshot(id);
                })
            .leases(ledger)
            .holdTimeout(Duration.ofSeconds(5))
            .ticker(fakeNanos::get)
            .build();
    meters.add(meter);
    try {
      for (int i = 0; i < 20; i++) {
        try (MeteredCall c = meter.open(call(), ESTIMATE)) {
          assertThat(c.admission().isAdmitted()).as("call %d: %s", i, c.admission()).isTrue();
          c.settle(new Usage(1000, 4500, 0, 0), UsageSource.REPORTED);
        }
      }
      assertThat(reads).hasValue(1);
      // A block is seen once the snapshot read before it has served its period.
      ledger.block(account, "b1", "admin", "test");
      fakeNanos.addAndGet(LedgerCreditMeter.FETCHED_SNAPSHOT_TTL.toNanos() + 1);
      try (MeteredCall c = meter.open(call(), ESTIMATE)) {
        assertThat(c.admission().reason()).isEqualTo(Admission.Reason.DENIED_STORE_BLOCKED);
      }
      assertThat(reads).hasValue(2);
      assertThat(balance()).isEqualTo(1_000 * WORST - 20 * WORST);
    } finally {
      blind.close();
    }
  }

  /** A cache whose every operation fails, as a Redis that does not answer in time. */
  private static final class FailingCache implements dev.creditgate.CreditCache {
    private static <T> java.util.concurrent.CompletableFuture<T> down() {
      return java.util.concurrent.CompletableFuture.failedFuture(
          new IllegalStateException("the cache is down"));
    }

    @Override
    public java.util.concurrent.CompletableFuture<dev.creditgate.CacheLookup> lookup(
        String accountId) {
      return down();
    }

    @Override
    public java.util.concurrent.CompletableFuture<Boolean> putSnapshot(
        String accountId, dev.creditgate.CreditSnapshot snapshot, Duration ttl) {
      return down();
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> setBlocked(
        String accountId, long version, Duration ttl) {
      return down();
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> clearBlocked(String accountId) {
      return down();
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> invalidate(String accountId) {
      return down();
    }
  }

  @Test
  void anAccountsOwnCheckModeAdmitsAsTheBalanceCheckDoes() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, WORST, "g1", "admin", "");
    ledger.setPolicy(
        account,
        new CreditPolicy(Optional.of(CreditMode.CHECK), Optional.empty(), OptionalLong.empty()),
        "ops");
    List<MeteredCall> open = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      open.add(meter.open(call(), ESTIMATE));
    }
    assertThat(open).allSatisfy(c -> assertThat(c.admission().isAdmitted()).isTrue());
    assertThat(meter.heldCredits()).isZero();
    open.forEach(MeteredCall::close);
    // Cleared: the gateway's strict mode holds again.
    assertThat(ledger.setPolicy(account, CreditPolicy.NONE, "ops")).isEmpty();
    try (MeteredCall c = meter.open(call(), ESTIMATE)) {
      assertThat(c.reserved()).isEqualTo(WORST);
    }
  }

  @Test
  void anAccountsOwnOverdraftLetsItHoldThatFarBelowZero() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, WORST, "g1", "admin", "");
    ledger.setPolicy(
        account,
        new CreditPolicy(Optional.empty(), Optional.empty(), OptionalLong.of(WORST)),
        "ops");
    try (MeteredCall first = meter.open(call(), ESTIMATE);
        MeteredCall second = meter.open(call(), ESTIMATE);
        MeteredCall third = meter.open(call(), ESTIMATE)) {
      assertThat(first.admission().isAdmitted()).isTrue();
      assertThat(second.admission().isAdmitted()).isTrue();
      assertThat(third.admission().reason()).isEqualTo(Admission.Reason.DENIED_INSUFFICIENT_CREDIT);
      first.settle(new Usage(1000, 4500, 0, 0), UsageSource.REPORTED);
      second.settle(new Usage(1000, 4500, 0, 0), UsageSource.REPORTED);
    }
    assertThat(balance()).isEqualTo(-WORST);
  }

  @Test
  void anAccountsOwnShortfallPolicyClampsWhereTheGatewayRejects() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, 7, "g1", "admin", "");
    ledger.setPolicy(
        account,
        new CreditPolicy(
            Optional.empty(), Optional.of(ShortfallPolicy.CLAMP), OptionalLong.empty()),
        "ops");
    try (MeteredCall c = meter.open(call(), ESTIMATE)) {
      assertThat(c.clampedOutputTokens()).hasValue(3000);
    }
    assertThat(meter.effectivePolicy(account).shortfall()).hasValue(ShortfallPolicy.CLAMP);
    assertThat(meter.effectivePolicy(account).mode()).hasValue(CreditMode.STRICT);
  }

  @Test
  void aPolicyForNoAccountOrWithABadOverdraftIsRefusedByName() {
    assertThatThrownBy(
            () ->
                ledger.setPolicy(
                    "acct-nobody-" + UUID.randomUUID(),
                    new CreditPolicy(
                        Optional.of(CreditMode.CHECK), Optional.empty(), OptionalLong.empty()),
                    "ops"))
        .isInstanceOf(dev.creditgate.ledger.AccountNotFoundException.class);
    assertThatThrownBy(
            () -> new CreditPolicy(Optional.empty(), Optional.empty(), OptionalLong.of(-1)))
        .isInstanceOf(dev.creditgate.InvalidArgumentException.class)
        .hasMessageContaining("overdraft");
    assertThat(ledger.policy(account)).isEmpty();
  }

  @Test
  void checkModeIsWhatOverspends() throws Exception {
    LedgerCreditMeter check =
        LedgerCreditMeter.builder().guard(guard).ledger(ledger).mode(CreditMode.CHECK).build();
    meters.add(check);
    ledger.grant(account, WORST, "g1", "admin", "");
    List<MeteredCall> open = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      open.add(check.open(call(), ESTIMATE));
    }
    assertThat(open).allSatisfy(c -> assertThat(c.admission().isAdmitted()).isTrue());
    open.forEach(
        c -> {
          c.settle(new Usage(1000, 4500, 0, 0), UsageSource.REPORTED);
          c.close();
        });
    assertThat(balance()).isEqualTo(WORST - 5 * WORST);
  }

  @Test
  void aSettleChargesTheActualCostAndReleasesTheRest() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, WORST + 5, "g1", "admin", "");
    try (MeteredCall first = meter.open(call(), ESTIMATE)) {
      assertThat(first.reserved()).isEqualTo(WORST);
      assertThat(first.remaining()).hasValue(5);
      try (MeteredCall second = meter.open(call(), ESTIMATE)) {
        assertThat(second.admission().reason())
            .isEqualTo(Admission.Reason.DENIED_INSUFFICIENT_CREDIT);
      }
      // 1,000 input and 500 output tokens: 2 credits; the other 8 go back.
      assertThat(first.settle(new Usage(1000, 500, 0, 0), UsageSource.REPORTED).credits())
          .isEqualTo(2);
      assertThat(first.remaining()).hasValue(13);
    }
    try (MeteredCall third = meter.open(call(), ESTIMATE)) {
      assertThat(third.admission().isAdmitted()).isTrue();
    }
    assertThat(balance()).isEqualTo(WORST + 5 - 2);
  }

  @Test
  void aRefusalSaysHowManyOutputTokensTheCreditAffords() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, 7, "g1", "admin", "");
    try (MeteredCall c = meter.open(call(), ESTIMATE)) {
      assertThat(c.admission().reason()).isEqualTo(Admission.Reason.DENIED_INSUFFICIENT_CREDIT);
      // 1 credit of input leaves 6 for output at 2 per 1,000 tokens: 3,000 tokens.
      assertThat(c.affordableOutputTokens()).isEqualTo(3000);
      assertThat(c.reserved()).isZero();
    }
    assertThat(balance()).isEqualTo(7);
  }

  @Test
  void clampLowersTheOutputCapToWhatTheCreditAffords() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.CLAMP);
    ledger.grant(account, 7, "g1", "admin", "");
    try (MeteredCall c = meter.open(call(), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
      assertThat(c.clampedOutputTokens()).hasValue(3000);
      assertThat(c.reserved()).isEqualTo(7);
      assertThat(c.outputBudget()).isEqualTo(3000);
      c.settle(new Usage(1000, 3000, 0, 0), UsageSource.REPORTED);
    }
    assertThat(balance()).isZero();
  }

  @Test
  void clampRefusesBelowTheMinimum() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.CLAMP);
    ledger.grant(account, 1, "g1", "admin", "");
    try (MeteredCall c = meter.open(call(), ESTIMATE)) {
      assertThat(c.admission().reason()).isEqualTo(Admission.Reason.DENIED_INSUFFICIENT_CREDIT);
      assertThat(c.affordableOutputTokens()).isZero();
    }
  }

  @Test
  void aCallNoRulePricesIsRefusedBeforeItRuns() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, 1_000, "g1", "admin", "");
    BillingContext unpriced = call().withScene("scene-nobody-priced-" + UUID.randomUUID());
    try (MeteredCall c = meter.open(unpriced, ESTIMATE)) {
      assertThat(c.admission().reason()).isEqualTo(Admission.Reason.DENIED_UNPRICED);
    }
  }

  @Test
  void anAbandonedCallGivesItsHoldBack() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, WORST, "g1", "admin", "");
    try (MeteredCall c = meter.open(call(), ESTIMATE)) {
      assertThat(meter.heldCredits()).isEqualTo(WORST);
      c.abandon("upstream refused");
      assertThat(meter.heldCredits()).isZero();
    }
    try (MeteredCall c = meter.open(call(), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
    }
    assertThat(balance()).isEqualTo(WORST);
  }

  @Test
  void aHoldPastItsDeadlineIsReleasedAndItsLateSettleStillCharged() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, WORST, "g1", "admin", "");
    try (MeteredCall stuck = meter.open(call(), ESTIMATE)) {
      assertThat(meter.openHolds()).isEqualTo(1);
      fakeNanos.addAndGet(Duration.ofSeconds(6).toNanos());
      await().atMost(Duration.ofSeconds(5)).until(() -> meter.openHolds() == 0);
      stuck.settle(new Usage(1000, 500, 0, 0), UsageSource.REPORTED);
    }
    assertThat(balance()).isEqualTo(WORST - 2);
  }

  @Test
  void inputBeyondTheEstimateIsChargedAndRecordedAsAnOverrun() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, 100, "g1", "admin", "");
    try (MeteredCall c = meter.open(call(), ESTIMATE)) {
      // 5,000 input tokens instead of the 1,000 counted: 5 + 9 = 14 credits, 4 beyond the hold.
      assertThat(c.settle(new Usage(5000, 4500, 0, 0), UsageSource.REPORTED).credits())
          .isEqualTo(14);
    }
    assertThat(balance()).isEqualTo(86);
    LedgerEntry charge =
        ledger.entries(account, null, 10).items().stream()
            .filter(e -> e.kind() == EntryKind.CHARGE)
            .findFirst()
            .orElseThrow();
    assertThat(charge.metadata()).contains("\"overrun\":4");
  }

  @Test
  void aCallWhoseHoldWasReleasedIsStillChargedAndAllOfItCountsAsAnOverrun() {
    LedgerCreditMeter meter = meter(ShortfallPolicy.REJECT);
    ledger.grant(account, WORST, "g1", "admin", "");
    try (MeteredCall first = meter.open(call().withEventId("first"), ESTIMATE)) {
      // An operator gives the credit back while the call runs; another call takes it.
      assertThat(meter.releaseHold(account, "first")).isTrue();
      try (MeteredCall second = meter.open(call().withEventId("second"), ESTIMATE)) {
        assertThat(second.admission().isAdmitted()).isTrue();
        // The first call ends and is charged all the same: 1,000 input, 500 output = 2 credits,
        // none of them covered by a hold any more.
        first.settle(new Usage(1000, 500, 0, 0), UsageSource.REPORTED);
        long charged = WORST - balance();
        long overruns =
            ledger.entries(account, null, 10).items().stream()
                .filter(e -> e.kind() == EntryKind.CHARGE)
                .mapToLong(e -> e.metadata().contains("\"overrun\":2") ? 2 : 0)
                .sum();
        assertThat(charged).isEqualTo(2);
        assertThat(overruns).isEqualTo(2);
        assertThat(charged + meter.heldCredits(account)).isLessThanOrEqualTo(WORST + overruns);
      }
    }
  }
}

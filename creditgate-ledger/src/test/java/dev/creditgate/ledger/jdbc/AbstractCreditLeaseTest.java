package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.ledger.AccountNotFoundException;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.Lease;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Usage;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Leases of an account's credit shared by two ledgers on one database, as two gateway processes
 * share it: together they never lease more than the account has, a charge consumes its holder's
 * lease, an expired lease frees its credit for good, and two strict meters on one account never
 * admit more than it affords.
 */
abstract class AbstractCreditLeaseTest {

  static final Duration TERM = Duration.ofSeconds(30);

  /** 1,000 input tokens and at most 4,500 output tokens: 10 credits at worst (see the rule). */
  static final Estimate ESTIMATE = new Estimate("openai", "gpt-test", 1000, 4500, 1);

  static final long WORST = 10;

  @TempDir Path directory;

  /** The time both ledgers read; tests move it to expire leases. */
  final SettableClock clock = new SettableClock(Instant.parse("2026-12-01T00:00:00Z"));

  JdbcCreditLedger first;
  JdbcCreditLedger second;
  final List<AutoCloseable> closing = new ArrayList<>();
  String account;
  String scene;

  abstract String jdbcUrl();

  /** Each ledger's cache and its publisher, as each process has its own. */
  final java.util.Map<JdbcCreditLedger, InMemoryCreditCache> caches = new java.util.HashMap<>();

  final java.util.Map<JdbcCreditLedger, SnapshotPublisher> publishers = new java.util.HashMap<>();

  JdbcCreditLedger ledger(String name, Clock clock) {
    InMemoryCreditCache cache = InMemoryCreditCache.create();
    SnapshotPublisher publisher = SnapshotPublisher.builder(cache).build();
    closing.add(publisher);
    JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(jdbcUrl())
            .spoolDirectory(directory.resolve(name))
            .writeBehind(true)
            .clock(clock)
            .commitListener(publisher::publishAll)
            .build();
    closing.add(0, ledger);
    caches.put(ledger, cache);
    publishers.put(ledger, publisher);
    return ledger;
  }

  @BeforeEach
  void open() {
    first = ledger("first", clock);
    second = ledger("second", clock);
    account = "acct-" + UUID.randomUUID();
    scene = "scene-" + UUID.randomUUID();
    first.createPriceRule(new PriceRule(0, scene, "", "", 1000, 2000, 0, 0, 1000, 0, 0, true));
  }

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
  }

  long leased(String accountId) {
    return first.leases(accountId).stream().mapToLong(Lease::credits).sum();
  }

  @Test
  void holdersAreNamedApart() {
    assertThat(first.holder()).isNotEqualTo(second.holder()).contains("@");
  }

  @Test
  void twoHoldersTogetherNeverLeaseMoreThanTheBalancePlusOverdraft() throws Exception {
    first.grant(account, 1_000, "g1", "admin", "");
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<Lease>> asked = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      JdbcCreditLedger holder = i % 2 == 0 ? first : second;
      asked.add(pool.submit(() -> holder.extend(account, 97, 50, TERM)));
    }
    for (Future<Lease> f : asked) {
      f.get();
    }
    pool.shutdown();
    assertThat(leased(account)).isEqualTo(1_050);
    assertThat(first.leaseRoom(account) + second.leaseRoom(account)).isEqualTo(1_050);
  }

  @Test
  void aLeaseGrowsOnlyByWhatIsFree() {
    first.grant(account, 100, "g1", "admin", "");
    assertThat(first.extend(account, 70, 0, TERM).credits()).isEqualTo(70);
    assertThat(second.extend(account, 70, 0, TERM).credits()).isEqualTo(30);
    assertThat(second.extend(account, 70, 0, TERM).credits()).isEqualTo(30);
    assertThat(first.leaseRoom(account)).isEqualTo(70);
    assertThat(second.leaseRoom(account)).isEqualTo(30);
  }

  @Test
  void beyondWhatItNeedsALeaseTakesAtMostHalfOfWhatIsFree() {
    first.grant(account, 100, "g1", "admin", "");
    // 10 needed, then half of the 90 left free.
    assertThat(first.extend(account, 10, 90, 0, TERM).credits()).isEqualTo(55);
    // 45 free: 10 needed, then half of the 35 left.
    assertThat(second.extend(account, 10, 90, 0, TERM).credits()).isEqualTo(27);
    // What is needed is granted in full as far as it is free.
    assertThat(first.extend(account, 18, 18, 0, TERM).credits()).isEqualTo(73);
    assertThat(second.extend(account, 10, 10, 0, TERM).credits()).isEqualTo(27);
    assertThat(leased(account)).isEqualTo(100);
    assertThatThrownBy(() -> first.extend(account, 10, 9, 0, TERM))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("wanted");
  }

  @Test
  void aBusyProcessDoesNotStarveTheOtherOnAScarceAccount() {
    // Room for 10 worst-case calls. The first process, with a call in flight, must not lease the
    // whole balance away: the second is admitted for three calls at once without waiting for it.
    LedgerCreditMeter one = meter(first);
    LedgerCreditMeter two = meter(second);
    first.grant(account, 10 * WORST, "g1", "admin", "");
    List<MeteredCall> open = new ArrayList<>();
    try {
      open.add(one.open(call(), ESTIMATE));
      for (int i = 0; i < 3; i++) {
        open.add(two.open(call(), ESTIMATE));
      }
      assertThat(open).allSatisfy(c -> assertThat(c.admission().isAdmitted()).isTrue());
    } finally {
      for (MeteredCall c : open) {
        c.abandon("test");
        c.close();
      }
    }
  }

  @Test
  void aProcessShortOfCreditGivesBackItsSlackForTheOther() {
    // Rounds every 10 s: no idle give-back during the test.
    dev.creditgate.meter.MeterListener quiet = new dev.creditgate.meter.MeterListener() {};
    LedgerCreditMeter one = meter(first, quiet, Duration.ofMinutes(1));
    LedgerCreditMeter two = meter(second, quiet, Duration.ofMinutes(1));
    first.grant(account, 2 * WORST, "g1", "admin", "");
    try (MeteredCall call1 = one.open(call(), ESTIMATE)) {
      // The first leased its call and half of the rest: 15 of 20.
      assertThat(call1.admission().isAdmitted()).isTrue();
      try (MeteredCall call2 = two.open(call(), ESTIMATE)) {
        // The second found 5 free, less than a call: refused, and it gives its 5 back.
        assertThat(call2.admission().isAdmitted()).isFalse();
      }
      // So the first, with 5 of slack of its own, finds the other 5 free for its second call.
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(
              () -> {
                try (MeteredCall call3 = one.open(call(), ESTIMATE)) {
                  assertThat(call3.admission().isAdmitted()).isTrue();
                  call3.abandon("test");
                }
              });
      call1.abandon("test");
    }
  }

  @Test
  void aChargeConsumesItsHoldersLeaseInItsCommit() {
    first.grant(account, 100, "g1", "admin", "");
    first.extend(account, 60, 0, TERM);
    second.extend(account, 40, 0, TERM);
    // 1,000 input and 5,000 output tokens: 11 credits.
    first.charge(charge("c1", 1000, 5000));
    assertThat(first.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    assertThat(first.leaseRoom(account)).isEqualTo(49);
    assertThat(first.account(account).orElseThrow().balance()).isEqualTo(89);
    assertThat(leased(account)).isEqualTo(89);
    // What the first gave up by spending is not the second's: the account has nothing free.
    assertThat(second.extend(account, 10, 0, TERM).credits()).isEqualTo(40);
  }

  @Test
  void aChargeNotYetWrittenCountsAgainstTheLease() {
    first.grant(account, 100, "g1", "admin", "");
    first.extend(account, 100, 0, TERM);
    long before = first.leaseRoom(account);
    first.charge(charge("c1", 1000, 5000));
    // Queued or written, the charge is out of the room at once.
    assertThat(first.leaseRoom(account)).isEqualTo(before - 11);
    assertThat(first.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    assertThat(first.leaseRoom(account)).isEqualTo(before - 11);
  }

  @Test
  void aRoomReadWhileChargesCommitCountsEachChargeOnce() throws Exception {
    // 11 credits a charge; a lease nothing else changes: the room is the lease less every charge
    // accepted, whether it is still queued or already consumed the lease in its commit.
    int charges = 600;
    first.grant(account, 100_000, "g1", "admin", "");
    long lease = first.extend(account, 100_000, 0, TERM).credits();
    java.util.concurrent.atomic.AtomicLong issued = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicLong returned = new java.util.concurrent.atomic.AtomicLong();
    Thread charging =
        Thread.ofPlatform()
            .start(
                () -> {
                  for (int i = 0; i < charges; i++) {
                    issued.addAndGet(11);
                    first.charge(charge("c" + i, 1000, 5000));
                    returned.addAndGet(11);
                  }
                });
    List<String> wrong = new ArrayList<>();
    long reads = 0;
    while (charging.isAlive() && wrong.size() < 5) {
      long low = returned.get();
      long room = first.leaseRoom(account);
      long high = issued.get();
      reads++;
      if (room > lease - low || room < lease - high) {
        wrong.add(room + " outside [" + (lease - high) + ", " + (lease - low) + "]");
      }
    }
    charging.join();
    assertThat(wrong).as("room reads out of %d", reads).isEmpty();
    assertThat(first.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    assertThat(first.leaseRoom(account)).isEqualTo(lease - 11L * charges);
  }

  @Test
  void anExpiredLeaseFreesItsCreditAndIsNotRevivedByALateRenewal() {
    first.grant(account, 100, "g1", "admin", "");
    first.extend(account, 100, 0, TERM);
    assertThat(second.extend(account, 100, 0, TERM).credits()).isZero();
    clock.advance(TERM.plusSeconds(1));
    assertThat(first.leaseRoom(account)).isZero();
    assertThat(second.extend(account, 100, 0, TERM).credits()).isEqualTo(100);
    first.renew(TERM);
    assertThat(first.leaseRoom(account)).isZero();
    assertThat(leased(account)).isEqualTo(100);
    // The first leases again from what is free: nothing.
    assertThat(first.extend(account, 100, 0, TERM).credits()).isZero();
  }

  @Test
  void aLeaseStopsBeingUsedAThirdOfItsTermBeforeItExpires() {
    first.grant(account, 100, "g1", "admin", "");
    first.extend(account, 100, 0, TERM);
    clock.advance(TERM.multipliedBy(2).dividedBy(3).minusMillis(1));
    assertThat(first.leaseRoom(account)).isEqualTo(100);
    clock.advance(Duration.ofMillis(2));
    assertThat(first.leaseRoom(account)).isZero();
    first.renew(TERM);
    assertThat(first.leaseRoom(account)).isEqualTo(100);
  }

  @Test
  void trimmingGivesBackAllButTheUnwrittenCharges() {
    first.grant(account, 100, "g1", "admin", "");
    first.extend(account, 100, 0, TERM);
    first.trim(account, 25, TERM);
    assertThat(first.leaseRoom(account)).isEqualTo(25);
    assertThat(second.extend(account, 100, 0, TERM).credits()).isEqualTo(75);
  }

  @Test
  void anOperatorsDebitEndsEveryLeaseOnTheAccount() {
    first.grant(account, 100, "g1", "admin", "");
    first.extend(account, 50, 0, TERM);
    second.extend(account, 50, 0, TERM);
    first.adjust(account, -80, "adj1", "admin", "correction");
    assertThat(first.leaseRoom(account)).isZero();
    assertThat(leased(account)).isZero();
    assertThat(second.extend(account, 100, 0, TERM).credits()).isEqualTo(20);
  }

  @Test
  void badArgumentsAreRefusedByName() {
    first.grant(account, 100, "g1", "admin", "");
    assertThatThrownBy(() -> first.extend(account, -1, 0, TERM)).hasMessageContaining("needed");
    assertThatThrownBy(() -> first.extend(account, 1, -1, TERM)).hasMessageContaining("overdraft");
    assertThatThrownBy(() -> first.extend(account, 1, 0, Duration.ZERO))
        .hasMessageContaining("term");
    assertThatThrownBy(() -> first.extend("acct-nobody-" + UUID.randomUUID(), 1, 0, TERM))
        .isInstanceOf(AccountNotFoundException.class);
    assertThat(leased(account)).isZero();
  }

  @Test
  void twoStrictMetersOnOneAccountAdmitOnlyWhatItAffords() throws Exception {
    // Real time for the meters' lease rounds; the ledgers' clock stays put (leases do not expire).
    LedgerCreditMeter one = meter(first);
    LedgerCreditMeter two = meter(second);
    first.grant(account, 10 * WORST, "g1", "admin", "");
    int admitted =
        ConcurrentCalls.openTogether(
            List.of(one, two), 200, this::call, ESTIMATE, new Usage(1000, 4500, 0, 0));
    assertThat(admitted).isBetween(1, 10);
    assertThat(first.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    assertThat(second.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    long balance = first.account(account).orElseThrow().balance();
    assertThat(balance).isEqualTo(10 * WORST - admitted * WORST).isNotNegative();
  }

  @Test
  void aBurstOnAFundedAccountIsAdmittedWhole() throws Exception {
    // Calls that wait for another call's lease operation are counted in the next one; none is
    // refused while the account has the credit.
    LedgerCreditMeter one = meter(first);
    LedgerCreditMeter two = meter(second);
    first.grant(account, 10_000 * WORST, "g1", "admin", "");
    int admitted =
        ConcurrentCalls.openTogether(
            List.of(one, two), 200, this::call, ESTIMATE, new Usage(1000, 500, 0, 0));
    assertThat(admitted).isEqualTo(200);
  }

  @Test
  void anIdleMeterGivesItsLeaseBackForTheOtherProcess() throws Exception {
    LedgerCreditMeter one = meter(first);
    LedgerCreditMeter two = meter(second);
    first.grant(account, 2 * WORST, "g1", "admin", "");
    try (MeteredCall c = one.open(call(), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
      c.settle(new Usage(1000, 500, 0, 0), UsageSource.REPORTED);
    }
    // The first leased all 20 credits; once idle for a round (a sixth of the 3 s term), it gives
    // them back and the second can hold its own call's worst case.
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              try (MeteredCall c = two.open(call(), ESTIMATE)) {
                assertThat(c.admission().isAdmitted()).isTrue();
                c.abandon("test");
              }
            });
  }

  long leaseRows() throws Exception {
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(jdbcUrl());
        java.sql.PreparedStatement s =
            c.prepareStatement("SELECT count(*) FROM credit_leases WHERE account_id = ?")) {
      s.setString(1, account);
      try (java.sql.ResultSet rows = s.executeQuery()) {
        rows.next();
        return rows.getLong(1);
      }
    }
  }

  @Test
  void aLeaseExpiredOverAnHourAgoIsDeletedByTheNextLeaseOperationOnTheAccount() throws Exception {
    first.grant(account, 100, "g1", "admin", "");
    second.extend(account, 10, 0, TERM);
    first.extend(account, 10, 0, TERM);
    clock.advance(Duration.ofMinutes(30));
    first.extend(account, 10, 0, TERM);
    assertThat(leaseRows()).as("the second's lease expired half an hour ago: kept").isEqualTo(2);
    clock.advance(Duration.ofMinutes(31));
    first.extend(account, 10, 0, TERM);
    assertThat(leaseRows()).as("the second's lease expired over an hour ago: deleted").isOne();
  }

  @Test
  void aDeadProcesssCallInFlightIsChargedAgainstItsStillLiveLease() {
    first.grant(account, 100, "g1", "admin", "");
    first.extend(account, 60, 0, TERM);
    String dead = first.holder();
    first.recordIntent(charge("call-1", 1000, 4500));
    first.crash();
    JdbcCreditLedger restarted = ledger("first", clock);
    assertThat(restarted.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> restarted.entry(account, "call-1").isPresent());
    // The lease held the call's credit: the estimate comes out of it, nothing beyond it.
    assertThat(restarted.entry(account, "call-1").orElseThrow().metadata())
        .contains("\"recovered_estimate\":true")
        .doesNotContain("overrun");
    assertThat(restarted.leases(account))
        .singleElement()
        .satisfies(l -> assertThat(l.holder()).isEqualTo(dead))
        .satisfies(l -> assertThat(l.credits()).isEqualTo(60 - WORST));
    assertThat(restarted.account(account).orElseThrow().balance()).isEqualTo(100 - WORST);
  }

  @Test
  void aDeadProcesssCallInFlightChargedAfterItsLeaseExpiredIsAnOverrun() {
    // The other process may have leased the credit once the dead one's lease expired: the estimate
    // charged at the restart is beyond what held the call, and the entry says so.
    first.grant(account, 100, "g1", "admin", "");
    first.extend(account, 60, 0, TERM);
    first.recordIntent(charge("call-1", 1000, 4500));
    first.crash();
    clock.advance(TERM.plusSeconds(1));
    assertThat(second.extend(account, 100, 0, TERM).credits()).isEqualTo(100);
    JdbcCreditLedger restarted = ledger("first", clock);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> restarted.entry(account, "call-1").isPresent());
    assertThat(restarted.entry(account, "call-1").orElseThrow().metadata())
        .contains("\"recovered_estimate\":true", "\"overrun\":" + WORST);
  }

  @Test
  void aCallInFlightWithoutALeaseIsChargedItsEstimateWithoutOverrun() {
    first.grant(account, 100, "g1", "admin", "");
    first.recordIntent(charge("call-1", 1000, 4500));
    first.crash();
    JdbcCreditLedger restarted = ledger("first", clock);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> restarted.entry(account, "call-1").isPresent());
    assertThat(restarted.entry(account, "call-1").orElseThrow().metadata())
        .doesNotContain("overrun");
    assertThat(restarted.account(account).orElseThrow().balance()).isEqualTo(100 - WORST);
  }

  @Test
  void aBusyAccountsLeaseIsSizedByItsDemandNotByAFewCalls() {
    // A slice of 8 holds would need a lease operation every 8 calls; sized by the account's recent
    // demand, a busy account needs about one per second.
    java.util.concurrent.atomic.AtomicInteger grown =
        new java.util.concurrent.atomic.AtomicInteger();
    LedgerCreditMeter meter =
        meter(
            first,
            new dev.creditgate.meter.MeterListener() {
              @Override
              public void onLease(LeaseEvent event) {
                if (event == LeaseEvent.GROWN) {
                  grown.incrementAndGet();
                }
              }
            });
    first.grant(account, 1_000_000_000L, "g1", "admin", "");
    long end = System.nanoTime() + Duration.ofMillis(1500).toNanos();
    while (System.nanoTime() - end < 0) {
      try (MeteredCall c = meter.open(call(), ESTIMATE)) {
        c.settle(new Usage(1000, 4500, 0, 0), UsageSource.REPORTED);
      }
    }
    // From here the rounds (every 500 ms) have measured the demand.
    int grownBefore = grown.get();
    int calls = 0;
    end = System.nanoTime() + Duration.ofMillis(1500).toNanos();
    while (System.nanoTime() - end < 0) {
      try (MeteredCall c = meter.open(call(), ESTIMATE)) {
        assertThat(c.admission().isAdmitted()).isTrue();
        c.settle(new Usage(1000, 4500, 0, 0), UsageSource.REPORTED);
      }
      calls++;
    }
    int operations = grown.get() - grownBefore;
    assertThat(calls).as("calls in the measured 1.5 s").isGreaterThan(100);
    assertThat(operations)
        .as("lease operations for %d calls", calls)
        .isLessThan(Math.max(8, calls / 40));
  }

  LedgerCreditMeter meter(JdbcCreditLedger ledger) {
    return meter(ledger, new dev.creditgate.meter.MeterListener() {});
  }

  LedgerCreditMeter meter(JdbcCreditLedger ledger, dev.creditgate.meter.MeterListener listener) {
    return meter(ledger, listener, Duration.ofSeconds(3));
  }

  LedgerCreditMeter meter(
      JdbcCreditLedger ledger, dev.creditgate.meter.MeterListener listener, Duration term) {
    CreditBalanceGuard guard =
        CreditBalanceGuard.builder()
            .cache(caches.get(ledger))
            .publisher(publishers.get(ledger))
            .snapshotProvider(ledger)
            .pendingDebits(ledger)
            .build();
    closing.add(0, guard);
    LedgerCreditMeter meter =
        LedgerCreditMeter.builder()
            .guard(guard)
            .ledger(ledger)
            .prices(ledger)
            .store(ledger)
            .leases(ledger)
            .leaseTerm(term)
            .listener(listener)
            .build();
    closing.add(0, meter);
    return meter;
  }

  BillingContext call() {
    return new BillingContext(account, "", scene, "", "", "pro", false);
  }

  ChargeRequest charge(String eventId, long input, long output) {
    return new ChargeRequest(
        account,
        eventId,
        "",
        scene,
        "openai",
        "gpt-test",
        new Usage(input, output, 0, 0),
        false,
        "");
  }
}

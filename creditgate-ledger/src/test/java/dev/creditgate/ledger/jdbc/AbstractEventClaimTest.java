package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.IdempotencyKeyReusedException;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
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
 * An Idempotency-Key claimed in the shared database before the upstream is called: two gateway
 * processes (two ledgers and two meters on one database) given the same key at the same moment
 * serve it once, and a key once charged is refused by both. Written as a client that sends the same
 * request through a load balancer to several gateways at once would try to be served twice and
 * charged once.
 */
abstract class AbstractEventClaimTest {

  static final Usage USAGE = AbstractCreditLedgerContractTest.EXAMPLE_USAGE;
  static final Estimate ESTIMATE = new Estimate("openai", "gpt-test", 100, 1000, 1);
  static final Duration HOLD_TIMEOUT = Duration.ofMinutes(10);

  @TempDir Path directory;

  final SettableClock clock = new SettableClock(Instant.now());
  final List<AutoCloseable> closing = new ArrayList<>();
  JdbcCreditLedger firstLedger;
  JdbcCreditLedger secondLedger;
  LedgerCreditMeter first;
  LedgerCreditMeter second;
  String account;
  String scene;

  abstract String jdbcUrl();

  JdbcCreditLedger ledger(String name) {
    JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(jdbcUrl())
            .spoolDirectory(directory.resolve(name))
            .writeBehind(true)
            .clock(clock)
            .build();
    closing.add(0, ledger);
    return ledger;
  }

  LedgerCreditMeter meter(JdbcCreditLedger ledger) {
    CreditBalanceGuard guard =
        CreditBalanceGuard.builder()
            .cache(InMemoryCreditCache.create())
            .snapshotProvider(ledger)
            .pendingDebits(ledger)
            .build();
    LedgerCreditMeter meter =
        LedgerCreditMeter.builder()
            .guard(guard)
            .ledger(ledger)
            .prices(ledger)
            .store(ledger)
            .holdTimeout(HOLD_TIMEOUT)
            .build();
    closing.add(0, guard);
    closing.add(0, meter);
    return meter;
  }

  @BeforeEach
  void open() {
    firstLedger = ledger("first");
    secondLedger = ledger("second");
    first = meter(firstLedger);
    second = meter(secondLedger);
    account = "acct-" + UUID.randomUUID();
    scene = "scene-" + UUID.randomUUID();
    firstLedger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
    firstLedger.grant(account, 100_000, "g1", "admin", "");
  }

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
  }

  BillingContext call(String key) {
    return new BillingContext(account, key, scene, "req-" + UUID.randomUUID(), "", "pro", false);
  }

  long charges() {
    assertThat(firstLedger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    assertThat(secondLedger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    return firstLedger.entries(account, null, 1000).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .count();
  }

  static void assertRefused(LedgerCreditMeter meter, BillingContext call, boolean inProgress) {
    assertThatThrownBy(() -> meter.open(call, ESTIMATE))
        .isInstanceOfSatisfying(
            IdempotencyKeyReusedException.class,
            e -> assertThat(e.inProgress()).as("in progress").isEqualTo(inProgress));
  }

  @Test
  void twoProcessesGivenOneKeyAtOnceServeItOnceAndThenRefuseIt() throws Exception {
    int rounds = 20;
    int perRound = 4;
    for (int round = 0; round < rounds; round++) {
      String key = "key-" + round;
      CountDownLatch go = new CountDownLatch(1);
      CountDownLatch opened = new CountDownLatch(perRound);
      List<Future<Boolean>> results = new ArrayList<>();
      try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
        for (int i = 0; i < perRound; i++) {
          LedgerCreditMeter meter = i % 2 == 0 ? first : second;
          results.add(
              pool.submit(
                  () -> {
                    go.await();
                    MeteredCall c;
                    try {
                      c = meter.open(call(key), ESTIMATE);
                    } catch (IdempotencyKeyReusedException e) {
                      opened.countDown();
                      assertThat(e.inProgress()).isTrue();
                      return false;
                    }
                    try (c) {
                      // Served while the others try: the key stays claimed until it is charged.
                      opened.countDown();
                      opened.await();
                      assertThat(c.admission().isAdmitted()).isTrue();
                      c.beforeRelay();
                      c.settle(USAGE, UsageSource.REPORTED);
                      return true;
                    }
                  }));
        }
        go.countDown();
        int admitted = 0;
        for (Future<Boolean> f : results) {
          admitted += f.get() ? 1 : 0;
        }
        assertThat(admitted).as("round %d: served once", round).isEqualTo(1);
      }
      // Charged (the charge perhaps still queued in the winner's process): both refuse the key.
      for (LedgerCreditMeter meter : List.of(first, second)) {
        assertThatThrownBy(() -> meter.open(call(key), ESTIMATE))
            .isInstanceOf(IdempotencyKeyReusedException.class);
      }
    }
    assertThat(charges()).isEqualTo(rounds);
    for (int round = 0; round < rounds; round++) {
      // Written: refused as charged by both.
      assertRefused(first, call("key-" + round), false);
      assertRefused(second, call("key-" + round), false);
    }
  }

  @Test
  void aKeyChargedThroughOneProcessIsRefusedByTheOtherOnceWritten() {
    try (MeteredCall c = first.open(call("k"), ESTIMATE)) {
      assertRefused(second, call("k"), true);
      c.settle(USAGE, UsageSource.REPORTED);
    }
    assertThat(charges()).isEqualTo(1);
    assertRefused(second, call("k"), false);
    assertRefused(first, call("k"), false);
    // Long after the claim expired, the charge itself still refuses the key.
    clock.advance(HOLD_TIMEOUT.multipliedBy(2));
    assertRefused(second, call("k"), false);
    assertThat(charges()).isEqualTo(1);
  }

  @Test
  void aCallThatEndsUnchargedGivesItsKeyBackToEveryProcess() {
    try (MeteredCall c = first.open(call("k"), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
      c.abandon("upstream refused");
    }
    try (MeteredCall c = second.open(call("k"), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
      c.settle(USAGE, UsageSource.REPORTED);
    }
    assertThat(charges()).isEqualTo(1);
    // A call denied for want of credit gives its key back too: a top-up and a retry are served.
    String poor = "poor-" + UUID.randomUUID();
    firstLedger.openAccount(poor);
    BillingContext retried =
        new BillingContext(poor, "k2", scene, "req-" + UUID.randomUUID(), "", "pro", false);
    try (MeteredCall c = second.open(retried, ESTIMATE)) {
      assertThat(c.admission().isDenied()).isTrue();
    }
    firstLedger.grant(poor, 1_000, "g2", "admin", "");
    try (MeteredCall c = first.open(retried, ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).isTrue();
    }
  }

  @Test
  void theClaimOfAProcessKilledDuringItsCallExpiresAfterTheHoldTimeout() {
    MeteredCall inFlight = first.open(call("k"), ESTIMATE);
    assertThat(inFlight.admission().isAdmitted()).isTrue();
    // Killed during the call: it never ends, its claim stays in the database.
    firstLedger.crash();
    assertRefused(second, call("k"), true);
    clock.advance(HOLD_TIMEOUT.minusSeconds(1));
    assertRefused(second, call("k"), true);
    clock.advance(Duration.ofSeconds(2));
    try (MeteredCall c = second.open(call("k"), ESTIMATE)) {
      assertThat(c.admission().isAdmitted()).as("the key is not blocked forever").isTrue();
    }
  }
}

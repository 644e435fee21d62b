package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.Lease;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;

/**
 * Random sequences against two gateway instances that lease one account's credit from one database:
 * calls opened on either, settled below, at and above their estimate, abandoned, grants, time
 * passing beyond the holds' deadlines and the leases' term, and an instance crashing (its calls in
 * flight never settle, its leases are never given back) and restarting on its spool (which charges
 * each of its calls in flight its estimate). After every step: charged plus held never exceeds
 * granted plus recorded overruns, the live leases never exceed what the account has left plus those
 * overruns (plus, until the dead lease's term passes, the estimates charged at a restart), and each
 * call is charged once at most, a call in flight at a crash exactly once.
 */
abstract class AbstractFleetHoldModelPropertiesTest {

  sealed interface Op permits Open, Settle, Abandon, Grant, Pass, Crash {}

  record Open(int instance, long input, long output) implements Op {}

  record Settle(int call, long extraInput, int outputShare) implements Op {}

  record Abandon(int call) implements Op {}

  record Grant(long amount) implements Op {}

  /** Time passes beyond every hold's deadline and every lease's term. */
  record Pass() implements Op {}

  /** The instance dies and starts again on its spool directory. */
  record Crash(int instance) implements Op {}

  private static final Pattern OVERRUN = Pattern.compile("\"overrun\":(\\d+)");
  private static final Duration HOLD_TIMEOUT = Duration.ofMinutes(1);
  private static final Duration LEASE_TERM = Duration.ofSeconds(30);

  /** One gateway process: its ledger, cache, guard and meter. */
  final class Instance implements AutoCloseable {
    final Path spool;
    final JdbcCreditLedger ledger;
    final SnapshotPublisher publisher;
    final CreditBalanceGuard guard;
    final LedgerCreditMeter meter;

    Instance(Path spool) {
      this.spool = spool;
      InMemoryCreditCache cache = InMemoryCreditCache.create();
      publisher = SnapshotPublisher.builder(cache).build();
      ledger =
          JdbcCreditLedger.builder()
              .jdbcUrl(url)
              .spoolDirectory(spool)
              .writeBehind(true)
              .clock(clock)
              .commitListener(publisher::publishAll)
              .build();
      guard =
          CreditBalanceGuard.builder()
              .cache(cache)
              .publisher(publisher)
              .snapshotProvider(ledger)
              .pendingDebits(ledger)
              .build();
      meter =
          LedgerCreditMeter.builder()
              .guard(guard)
              .ledger(ledger)
              .prices(ledger)
              .store(ledger)
              .leases(ledger)
              .leaseTerm(LEASE_TERM)
              .holdTimeout(HOLD_TIMEOUT)
              .ticker(nanos::get)
              .build();
    }

    /**
     * A crash as far as credit goes: the ledger stops (what it queued is written, as its journal
     * would be at the next start), then the meter, which can no longer give its leases back.
     */
    void crash() {
      ledger.close();
      meter.close();
      guard.close();
      publisher.close();
    }

    @Override
    public void close() {
      meter.close();
      ledger.close();
      guard.close();
      publisher.close();
    }
  }

  Path directory;
  String url;
  final AtomicLong nanos = new AtomicLong();
  final SettableClock clock = new SettableClock(Instant.parse("2026-12-01T00:00:00Z"));
  final Instance[] instances = new Instance[2];
  String scene;

  abstract String jdbcUrl(Path directory) throws Exception;

  @BeforeProperty
  void open() throws Exception {
    directory = Files.createTempDirectory("creditgate-fleet");
    url = jdbcUrl(directory);
    for (int i = 0; i < instances.length; i++) {
      instances[i] = new Instance(directory.resolve("spool-" + i));
    }
    scene = "scene-" + UUID.randomUUID();
    // A credit per input token, two per output token.
    instances[0].ledger.createPriceRule(
        new PriceRule(0, scene, "", "", 1000, 2000, 0, 0, 1_000_000, 0, 0, true));
  }

  @AfterProperty
  void close() throws Exception {
    for (Instance instance : instances) {
      instance.close();
    }
    SqliteCreditLedgerTest.deleteTree(directory);
  }

  @Provide
  Arbitrary<List<Op>> operations() {
    Arbitrary<Integer> instance = Arbitraries.integers().between(0, 1);
    Arbitrary<Integer> call = Arbitraries.integers().between(0, 5);
    Arbitrary<Op> op =
        Arbitraries.frequencyOf(
            Tuple.of(
                8,
                Combinators.combine(
                        instance,
                        Arbitraries.longs().between(20, 100),
                        Arbitraries.longs().between(20, 100))
                    .as(Open::new)),
            Tuple.of(
                6,
                Combinators.combine(
                        call,
                        Arbitraries.longs().between(0, 40),
                        Arbitraries.integers().between(0, 130))
                    .as(Settle::new)),
            Tuple.of(1, call.map(Abandon::new)),
            Tuple.of(1, Arbitraries.longs().between(1, 300).map(Grant::new)),
            Tuple.of(1, Arbitraries.just(new Pass())),
            Tuple.of(1, instance.map(Crash::new)));
    return op.list().ofMinSize(5).ofMaxSize(30);
  }

  /** A call in flight and where it runs. */
  record Running(int instance, MeteredCall call, Open estimate) {}

  @Property(tries = 25)
  void theFleetNeverSpendsMoreThanTheAccountHas(@ForAll("operations") List<Op> operations) {
    String account = "acct-" + UUID.randomUUID();
    recoveredBeforeLastPass = 0;
    instances[0].ledger.grant(account, 300, "g0", "test", "");
    long granted = 300;
    List<Running> calls = new ArrayList<>();
    int settled = 0;
    int grants = 0;
    for (Op op : operations) {
      switch (op) {
        case Open o -> {
          MeteredCall c =
              instances[o.instance()].meter.open(
                  new BillingContext(account, "", scene, "", "", "pro", false),
                  new Estimate("openai", "m", o.input(), o.output(), 1));
          if (c.admission().isAdmitted()) {
            calls.add(new Running(o.instance(), c, o));
          } else {
            c.close();
          }
        }
        case Settle s -> {
          if (!calls.isEmpty()) {
            Running r = calls.remove(s.call() % calls.size());
            Settlement result =
                r.call()
                    .settle(
                        new Usage(
                            r.estimate().input() + s.extraInput(),
                            r.estimate().output() * s.outputShare() / 100,
                            0,
                            0),
                        UsageSource.REPORTED);
            if (result.status() != Settlement.Status.ABANDONED) {
              settled++;
            }
            r.call().close();
          }
        }
        case Abandon a -> {
          if (!calls.isEmpty()) {
            Running r = calls.remove(a.call() % calls.size());
            r.call().abandon("test");
            r.call().close();
          }
        }
        case Grant g -> {
          instances[0].ledger.grant(account, g.amount(), "g" + ++grants, "test", "");
          granted += g.amount();
        }
        case Pass p -> {
          nanos.addAndGet(HOLD_TIMEOUT.plusSeconds(1).toNanos());
          clock.advance(LEASE_TERM.plusSeconds(1));
          for (Instance instance : instances) {
            instance.meter.expireHolds();
            assertThat(instance.meter.heldCredits(account))
                .as("no hold outlives its deadline")
                .isZero();
          }
        }
        case Crash c -> {
          // Its calls in flight die with it, unsettled: the restart charges each its estimate.
          int inFlight = (int) calls.stream().filter(r -> r.instance() == c.instance()).count();
          calls.removeIf(r -> r.instance() == c.instance());
          Instance dead = instances[c.instance()];
          dead.crash();
          Instance restarted = new Instance(dead.spool);
          instances[c.instance()] = restarted;
          org.awaitility.Awaitility.await()
              .atMost(Duration.ofSeconds(30))
              .until(() -> restarted.ledger.stats().spoolPending() == 0);
          settled += inFlight;
        }
      }
      if (op instanceof Pass) {
        // The dead processes' leases have expired: estimates charged since no longer overlap them.
        recoveredBeforeLastPass = recovered(account);
      }
      checkBound(account, granted, settled);
    }
    for (Running r : calls) {
      r.call().close();
    }
    checkBound(account, granted, settled);
  }

  /** The recovered estimates charged so far when time last passed beyond the leases' term. */
  long recoveredBeforeLastPass;

  /** The credits charged as recovered estimates of calls in flight when their process died. */
  private long recovered(String account) {
    return -instances[0].ledger.entries(account, null, 1000).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .filter(e -> e.metadata().contains("\"recovered_estimate\":true"))
        .mapToLong(LedgerEntry::amount)
        .sum();
  }

  private void checkBound(String account, long granted, int settled) {
    JdbcCreditLedger ledger = instances[0].ledger;
    for (Instance instance : instances) {
      assertThat(instance.ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    }
    long balance = ledger.account(account).orElseThrow().balance();
    List<LedgerEntry> charges =
        ledger.entries(account, null, 1000).items().stream()
            .filter(e -> e.kind() == EntryKind.CHARGE)
            .toList();
    long overruns = 0;
    for (LedgerEntry charge : charges) {
      Matcher m = OVERRUN.matcher(charge.metadata());
      if (m.find()) {
        overruns += Long.parseLong(m.group(1));
      }
    }
    long charged = granted - balance;
    long held = 0;
    for (Instance instance : instances) {
      held += instance.meter.heldCredits(account);
    }
    assertThat(charged + held)
        .as("charged %d + held %d <= granted %d + overruns %d", charged, held, granted, overruns)
        .isLessThanOrEqualTo(granted + overruns);
    long leased = ledger.leases(account).stream().mapToLong(Lease::credits).sum();
    // The estimate of a call in flight when its process died is charged at the restart by the new
    // process, while the dead process's lease, which held that call, is still live until its term:
    // that credit is counted twice (not spent twice) until the lease expires.
    long recoveredOverlap = recovered(account) - recoveredBeforeLastPass;
    assertThat(leased)
        .as(
            "live leases %d <= balance %d + overruns %d + estimates recovered under a live dead"
                + " lease %d",
            leased, balance, overruns, recoveredOverlap)
        .isLessThanOrEqualTo(Math.max(0, balance) + overruns + recoveredOverlap);
    assertThat(charges).as("each call charged at most once").hasSize(settled);
  }
}

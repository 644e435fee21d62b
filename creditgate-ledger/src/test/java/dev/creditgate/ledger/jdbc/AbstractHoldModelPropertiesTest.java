package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * Random sequences of calls opened, settled (below, at and above their estimate), settled twice,
 * abandoned, released by an operator and expired, with grants in between, against one account of a
 * real write-behind ledger. After every step: what the account was charged plus what is held never
 * exceeds what it was granted plus the overruns the entries record; every call is charged at most
 * once; and after the deadline passes, no hold is left.
 */
abstract class AbstractHoldModelPropertiesTest {

  sealed interface Op permits Open, Settle, SettleAgain, Abandon, Release, Expire, Grant {}

  /** A call of {@code input} tokens asking for at most {@code output}. */
  record Open(long input, long output) implements Op {}

  /**
   * Settles an open call: {@code extraInput} beyond its counted input, {@code outputShare}% of its
   * cap.
   */
  record Settle(int call, long extraInput, int outputShare) implements Op {}

  record SettleAgain(int call) implements Op {}

  record Abandon(int call) implements Op {}

  /** An operator releases a call's hold. */
  record Release(int call) implements Op {}

  /** Time passes beyond every hold's deadline, and the sweep runs. */
  record Expire() implements Op {}

  record Grant(long amount) implements Op {}

  private static final Pattern OVERRUN = Pattern.compile("\"overrun\":(\\d+)");
  private static final Duration HOLD_TIMEOUT = Duration.ofMinutes(1);

  Path directory;
  JdbcCreditLedger ledger;
  SnapshotPublisher publisher;
  CreditBalanceGuard guard;
  LedgerCreditMeter meter;
  final AtomicLong nanos = new AtomicLong();
  String scene;

  abstract String jdbcUrl(Path directory) throws Exception;

  @BeforeProperty
  void open() throws Exception {
    directory = Files.createTempDirectory("creditgate-holds");
    InMemoryCreditCache cache = InMemoryCreditCache.create();
    publisher = SnapshotPublisher.builder(cache).build();
    ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(jdbcUrl(directory))
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
    meter =
        LedgerCreditMeter.builder()
            .guard(guard)
            .ledger(ledger)
            .prices(ledger)
            .store(ledger)
            .holdTimeout(HOLD_TIMEOUT)
            .ticker(nanos::get)
            .build();
    scene = "scene-" + UUID.randomUUID();
    // A credit per input token, two per output token.
    ledger.createPriceRule(
        new PriceRule(0, scene, "", "", 1000, 2000, 0, 0, 1_000_000, 0, 0, true));
  }

  @AfterProperty
  void close() throws Exception {
    meter.close();
    ledger.close();
    guard.close();
    publisher.close();
    SqliteCreditLedgerTest.deleteTree(directory);
  }

  @Provide
  Arbitrary<List<Op>> operations() {
    // Few calls at a time, each able to hold much of the account's credit: operations meet the
    // same calls again (a release, then another open, then the released call's settle).
    Arbitrary<Integer> call = Arbitraries.integers().between(0, 3);
    Arbitrary<Op> op =
        Arbitraries.frequencyOf(
            Tuple.of(
                6,
                Combinators.combine(
                        Arbitraries.longs().between(20, 100), Arbitraries.longs().between(20, 100))
                    .as(Open::new)),
            Tuple.of(
                5,
                Combinators.combine(
                        call,
                        Arbitraries.longs().between(0, 40),
                        Arbitraries.integers().between(0, 130))
                    .as(Settle::new)),
            Tuple.of(1, call.map(SettleAgain::new)),
            Tuple.of(1, call.map(Abandon::new)),
            Tuple.of(2, call.map(Release::new)),
            Tuple.of(2, Arbitraries.just(new Expire())),
            Tuple.of(1, Arbitraries.longs().between(1, 300).map(Grant::new)));
    return op.list().ofMinSize(5).ofMaxSize(40);
  }

  @Property(tries = 40)
  void spendNeverExceedsTheCreditPlusRecordedOverruns(@ForAll("operations") List<Op> operations) {
    String account = "acct-" + UUID.randomUUID();
    // Little credit, so that holds fill it and every path meets a full account.
    ledger.grant(account, 300, "g0", "test", "");
    long granted = 300;
    List<MeteredCall> calls = new ArrayList<>();
    List<Open> estimates = new ArrayList<>();
    int settled = 0;
    int grants = 0;
    for (Op op : operations) {
      switch (op) {
        case Open o -> {
          MeteredCall c =
              meter.open(
                  new BillingContext(account, "", scene, "", "", "pro", false),
                  new Estimate("openai", "m", o.input(), o.output(), 1));
          if (c.admission().isAdmitted()) {
            calls.add(c);
            estimates.add(o);
          } else {
            c.close();
          }
        }
        case Settle s -> {
          if (!calls.isEmpty()) {
            int i = s.call() % calls.size();
            Open o = estimates.get(i);
            var result =
                calls
                    .get(i)
                    .settle(
                        new Usage(
                            o.input() + s.extraInput(), o.output() * s.outputShare() / 100, 0, 0),
                        UsageSource.REPORTED);
            if (result.status() != dev.creditgate.meter.Settlement.Status.ABANDONED) {
              settled++;
            }
            calls.remove(i).close();
            estimates.remove(i);
          }
        }
        case SettleAgain s -> {
          if (!calls.isEmpty()) {
            MeteredCall c = calls.get(s.call() % calls.size());
            var first = c.settle(new Usage(1, 1, 0, 0), UsageSource.REPORTED);
            assertThat(c.settle(new Usage(9, 9, 0, 0), UsageSource.REPORTED)).isSameAs(first);
            if (first.status() != dev.creditgate.meter.Settlement.Status.ABANDONED) {
              settled++;
            }
            int i = calls.indexOf(c);
            calls.remove(i).close();
            estimates.remove(i);
          }
        }
        case Abandon a -> {
          if (!calls.isEmpty()) {
            int i = a.call() % calls.size();
            calls.get(i).abandon("test");
            calls.remove(i).close();
            estimates.remove(i);
          }
        }
        case Release r -> {
          if (!calls.isEmpty()) {
            MeteredCall c = calls.get(r.call() % calls.size());
            meter.releaseHold(account, eventIdOf(account, c));
          }
        }
        case Expire e -> {
          nanos.addAndGet(HOLD_TIMEOUT.plusSeconds(1).toNanos());
          meter.expireHolds();
          assertThat(meter.heldCredits(account)).as("no hold outlives its deadline").isZero();
        }
        case Grant g -> {
          ledger.grant(account, g.amount(), "g" + ++grants, "test", "");
          granted += g.amount();
        }
      }
      checkBound(account, granted, settled);
    }
    calls.forEach(MeteredCall::close);
    checkBound(account, granted, settled);
  }

  /** The open hold's event id of {@code call}: the one this account's holds list for it. */
  private String eventIdOf(String account, MeteredCall call) {
    return meter.holds(account).stream()
        .filter(h -> h.credits() == call.reserved())
        .map(LedgerCreditMeter.OpenHold::eventId)
        .findFirst()
        .orElse("none");
  }

  private void checkBound(String account, long granted, int settled) {
    assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
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
    long held = meter.heldCredits(account);
    assertThat(charged + held)
        .as("charged %d + held %d <= granted %d + overruns %d", charged, held, granted, overruns)
        .isLessThanOrEqualTo(granted + overruns);
    assertThat(charges).as("each call charged at most once").hasSize(settled);
  }
}

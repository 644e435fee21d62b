package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;

/**
 * Random sequences of grants, charges, refunds, adjustments, blocks and client retries against a
 * simple in-memory model of one account: after every step the stored account equals the model, and
 * after the sequence {@code verify} finds the entries consistent with it.
 */
abstract class AbstractLedgerModelPropertiesTest {

  /**
   * Prices input at 1 credit and output at 2 credits per token (1000 and 2000 micros per 1K tokens,
   * 10^6 credits per unit).
   */
  static long credits(long input, long output) {
    return input + 2 * output;
  }

  sealed interface Op permits Grant, Charge, Refund, Adjust, Block, Unblock, RetryLast {}

  record Grant(long amount) implements Op {}

  record Charge(long input, long output) implements Op {}

  record Refund(int chargeIndex, long amount) implements Op {}

  record Adjust(long amount) implements Op {}

  record Block() implements Op {}

  record Unblock() implements Op {}

  /**
   * Sends the previous operation again with the same event id and payload, as a retrying client
   * would.
   */
  record RetryLast() implements Op {}

  /** The model: what the account must hold. */
  static final class Model {
    long balance;
    long granted;
    long consumed;
    long refunded;
    boolean blocked;
    long version;
    final List<String> chargeEvents = new ArrayList<>();
    final List<Long> chargeCredits = new ArrayList<>();
    final List<Long> chargeRefunded = new ArrayList<>();
  }

  JdbcCreditLedger ledger;
  String scene;

  abstract String jdbcUrl() throws Exception;

  @BeforeProperty
  void open() throws Exception {
    ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(jdbcUrl())
            .spoolDirectory(Files.createTempDirectory("creditgate-model-spool"))
            .build();
    scene = "model-" + UUID.randomUUID();
    ledger.createPriceRule(
        new PriceRule(0, scene, "", "", 1000, 2000, 0, 0, 1_000_000, 0, 0, true));
  }

  @AfterProperty
  void close() {
    ledger.close();
  }

  @Provide
  Arbitrary<List<Op>> operations() {
    Arbitrary<Op> op =
        Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(3, Arbitraries.longs().between(1, 1000).map(Grant::new)),
            net.jqwik.api.Tuple.of(
                4,
                net.jqwik.api.Combinators.combine(
                        Arbitraries.longs().between(0, 300), Arbitraries.longs().between(0, 300))
                    .as(Charge::new)),
            net.jqwik.api.Tuple.of(
                2,
                net.jqwik.api.Combinators.combine(
                        Arbitraries.integers().between(0, 20), Arbitraries.longs().between(1, 800))
                    .as(Refund::new)),
            net.jqwik.api.Tuple.of(
                1, Arbitraries.longs().between(-500, 500).filter(a -> a != 0).map(Adjust::new)),
            net.jqwik.api.Tuple.of(1, Arbitraries.just(new Block())),
            net.jqwik.api.Tuple.of(1, Arbitraries.just(new Unblock())),
            net.jqwik.api.Tuple.of(1, Arbitraries.just(new RetryLast())));
    return op.list().ofMinSize(1).ofMaxSize(20);
  }

  @Property(tries = 25)
  void ledgerAgreesWithTheModel(@ForAll("operations") List<Op> operations) {
    String account = "model-" + UUID.randomUUID();
    Model model = new Model();
    Runnable last = null;
    int step = 0;
    for (Op op : operations) {
      String eventId = "e" + step++;
      Runnable action =
          switch (op) {
            case Grant g -> () -> ledger.grant(account, g.amount(), eventId, "admin", "top-up");
            case Charge c ->
                () ->
                    ledger.charge(
                        new ChargeRequest(
                            account,
                            eventId,
                            "",
                            scene,
                            "p",
                            "m",
                            new Usage(c.input(), c.output(), 0, 0),
                            false,
                            "{}"));
            case Refund r ->
                model.chargeEvents.isEmpty() ? null : refundAction(account, model, r, eventId);
            case Adjust a ->
                model.version == 0
                    ? null
                    : () -> ledger.adjust(account, a.amount(), eventId, "ops", "fix");
            case Block b ->
                model.version == 0 ? null : () -> ledger.block(account, eventId, "ops", "hold");
            case Unblock u ->
                model.version == 0
                    ? null
                    : () -> ledger.unblock(account, eventId, "ops", "release");
            case RetryLast r -> null;
          };
      if (op instanceof RetryLast) {
        if (last != null) {
          last.run();
        }
      } else if (action != null) {
        boolean accepted = applyToModel(model, op, eventId);
        if (accepted) {
          action.run();
          last = action;
        } else {
          assertThatThrownBy(action::run).isInstanceOf(IllegalArgumentException.class);
        }
      }
      if (model.version > 0) {
        Account stored = ledger.account(account).orElseThrow();
        assertThat(stored.balance()).as("balance after %s", op).isEqualTo(model.balance);
        assertThat(stored.granted()).isEqualTo(model.granted);
        assertThat(stored.consumed()).isEqualTo(model.consumed);
        assertThat(stored.refunded()).isEqualTo(model.refunded);
        assertThat(stored.blocked()).isEqualTo(model.blocked);
        assertThat(stored.version()).isEqualTo(model.version);
      }
    }
    if (model.version > 0) {
      assertThat(ledger.verify(account).problems()).isEmpty();
      List<LedgerEntry> entries = ledger.entries(account, null, 1000).items();
      assertThat(entries).hasSize((int) model.version);
      assertThat(entries.get(0).balanceAfter()).isEqualTo(model.balance);
    }
  }

  private Runnable refundAction(String account, Model model, Refund r, String eventId) {
    String chargeEvent = model.chargeEvents.get(r.chargeIndex() % model.chargeEvents.size());
    return () -> ledger.refund(account, chargeEvent, r.amount(), eventId, "support", "");
  }

  /** Applies {@code op} to the model; false when the ledger must refuse it. */
  private static boolean applyToModel(Model model, Op op, String eventId) {
    switch (op) {
      case Grant g -> {
        model.balance += g.amount();
        model.granted += g.amount();
      }
      case Charge c -> {
        long credits = credits(c.input(), c.output());
        model.balance -= credits;
        model.consumed += credits;
        model.chargeEvents.add(eventId);
        model.chargeCredits.add(credits);
        model.chargeRefunded.add(0L);
      }
      case Refund r -> {
        int index = r.chargeIndex() % model.chargeEvents.size();
        long left = model.chargeCredits.get(index) - model.chargeRefunded.get(index);
        if (r.amount() > left) {
          return false;
        }
        model.chargeRefunded.set(index, model.chargeRefunded.get(index) + r.amount());
        model.balance += r.amount();
        model.refunded += r.amount();
      }
      case Adjust a -> model.balance += a.amount();
      case Block b -> model.blocked = true;
      case Unblock u -> model.blocked = false;
      case RetryLast r -> throw new IllegalStateException("retries do not change the model");
    }
    model.version++;
    return true;
  }
}

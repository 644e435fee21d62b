package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.CreditSnapshot;
import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.AccountNotFoundException;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.IdempotencyConflictException;
import dev.creditgate.ledger.LedgerChecks;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.Page;
import dev.creditgate.ledger.VerifyResult;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The ledger's contract, run against every database it supports. Each test uses accounts and
 * price-rule scenes of its own, so the tests of one class share a database without interfering.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractCreditLedgerContractTest {

  /**
   * An example rule: input 3200, output 16000, cached 800, reasoning 16000, 100 credits per unit.
   */
  static PriceRule exampleRule(String scene) {
    return new PriceRule(0, scene, "", "", 3200, 16000, 800, 16000, 100, 0, 0, true);
  }

  /**
   * 800 uncached x 3200 + 200 cached x 800 + 400 output x 16000 + 100 reasoning x 16000 =
   * 10,720,000 / 1000.
   */
  static final Usage EXAMPLE_USAGE = new Usage(1000, 500, 200, 100);

  static final long EXAMPLE_COST_MICROS = 10_720;

  /** ceil(10,720 x 100 / 1,000,000) = ceil(1.072). */
  static final long EXAMPLE_CREDITS = 2;

  Path spoolRoot;

  /** Every commit's states, as the ledger told its listener. */
  List<Map<String, CreditSnapshot>> commits;

  JdbcCreditLedger ledger;

  /** Creates the database for the test class and returns its JDBC URL. */
  abstract String createDatabase() throws Exception;

  abstract void dropDatabase() throws Exception;

  /** Concurrent charges per thread in the 8-thread test. */
  int chargesPerThread() {
    return 1000;
  }

  String jdbcUrl;

  @BeforeAll
  void setUpDatabase() throws Exception {
    spoolRoot = Files.createTempDirectory("creditgate-spool");
    jdbcUrl = createDatabase();
  }

  @AfterAll
  void tearDownDatabase() throws Exception {
    dropDatabase();
  }

  JdbcCreditLedgerBuilder builder() throws IOException {
    return JdbcCreditLedger.builder()
        .jdbcUrl(jdbcUrl)
        .spoolDirectory(Files.createTempDirectory(spoolRoot, "spool"))
        .connectionTimeout(Duration.ofSeconds(2))
        .statementTimeout(Duration.ofSeconds(5));
  }

  @BeforeEach
  void openLedger() throws IOException {
    commits = Collections.synchronizedList(new ArrayList<>());
    ledger = builder().commitListener(commits::add).build();
  }

  @AfterEach
  void closeLedger() {
    ledger.close();
  }

  static String newAccount() {
    return "acct-" + UUID.randomUUID();
  }

  static String newScene() {
    return "scene-" + UUID.randomUUID();
  }

  static ChargeRequest charge(String account, String eventId, String scene, Usage usage) {
    return new ChargeRequest(
        account, eventId, "req-" + eventId, scene, "openai", "gpt-test", usage, false, "{}");
  }

  // ---------------------------------------------------------------- grants and accounts

  @Test
  void grantCreatesTheAccountAndRecordsAnEntry() {
    String account = newAccount();
    LedgerEntry entry = ledger.grant(account, 500, "g1", "admin", "top-up");

    assertThat(entry.kind()).isEqualTo(EntryKind.GRANT);
    assertThat(entry.amount()).isEqualTo(500);
    assertThat(entry.balanceAfter()).isEqualTo(500);
    assertThat(entry.actor()).isEqualTo("admin");
    assertThat(entry.reason()).isEqualTo("top-up");
    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.balance()).isEqualTo(500);
    assertThat(stored.granted()).isEqualTo(500);
    assertThat(stored.version()).isEqualTo(1);
    assertThat(stored.blocked()).isFalse();
    assertThat(ledger.entry(account, "g1")).contains(entry);
    assertThat(ledger.fetchSnapshot(account))
        .contains(new CreditSnapshot(500, false, 1, stored.updatedAt()));
  }

  @Test
  void openAccountIsIdempotentAndUnknownAccountsAreEmpty() {
    String account = newAccount();
    assertThat(ledger.account(account)).isEmpty();
    assertThat(ledger.fetchSnapshot(account)).isEmpty();
    Account opened = ledger.openAccount(account);
    assertThat(opened.balance()).isZero();
    assertThat(opened.version()).isZero();
    assertThat(ledger.openAccount(account)).isEqualTo(opened);
  }

  @Test
  void sameGrantTwiceReturnsTheOriginalAndChangesNothing() {
    String account = newAccount();
    LedgerEntry first = ledger.grant(account, 300, "g1", "admin", "top-up");
    LedgerEntry again = ledger.grant(account, 300, "g1", "admin", "top-up");

    assertThat(again).isEqualTo(first);
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(300);
    assertThat(ledger.account(account).orElseThrow().version()).isEqualTo(1);
  }

  @Test
  void sameEventIdWithADifferentPayloadIsAConflictThatSaysWhatDiffers() {
    String account = newAccount();
    ledger.grant(account, 300, "g1", "admin", "top-up");

    assertThatThrownBy(() -> ledger.grant(account, 301, "g1", "admin", "top-up"))
        .isInstanceOf(IdempotencyConflictException.class)
        .hasMessageContaining("g1")
        .hasMessageContaining("amount was 300, now 301");
    assertThatThrownBy(() -> ledger.adjust(account, 300, "g1", "admin", "top-up"))
        .isInstanceOf(IdempotencyConflictException.class)
        .hasMessageContaining("kind was GRANT, now ADJUSTMENT");
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(300);
  }

  @Test
  void accountsArePagedById() {
    String prefix = "page-" + UUID.randomUUID() + "-";
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ids.add(prefix + i);
      ledger.openAccount(prefix + i);
    }
    List<String> seen = new ArrayList<>();
    String cursor = prefix.substring(0, prefix.length() - 1);
    do {
      Page<Account> page = ledger.accounts(cursor, 2);
      page.items().stream().map(Account::id).filter(id -> id.startsWith(prefix)).forEach(seen::add);
      cursor = page.nextCursor();
      if (seen.size() == ids.size()) {
        break;
      }
    } while (cursor != null);
    assertThat(seen).containsExactlyElementsOf(ids);
  }

  // ---------------------------------------------------------------- charges

  @Test
  void chargeIsPricedWithTheMatchingRuleOfHighestPriority() {
    String scene = newScene();
    PriceRule general = ledger.createPriceRule(exampleRule(scene));
    PriceRule special =
        ledger.createPriceRule(
            new PriceRule(
                0, scene, "openai", "gpt-test", 6400, 32000, 1600, 32000, 100, 0, 10, true));
    String account = newAccount();
    ledger.grant(account, 100, "g1", "admin", "");

    ChargeResult result = ledger.charge(charge(account, "c1", scene, EXAMPLE_USAGE));

    // Every price doubled: 21,440 micros, ceil(2.144) = 3 credits.
    assertThat(result.status()).isEqualTo(ChargeResult.Status.APPLIED);
    assertThat(result.quote()).isEqualTo(new Quote(21_440, 3, special.id(), false));
    LedgerEntry entry = result.entry();
    assertThat(entry.amount()).isEqualTo(-3);
    assertThat(entry.balanceAfter()).isEqualTo(97);
    assertThat(entry.costMicros()).isEqualTo(21_440);
    assertThat(entry.priceRuleId()).isEqualTo(special.id());
    assertThat(entry.usage()).isEqualTo(EXAMPLE_USAGE);
    assertThat(entry.model()).isEqualTo("gpt-test");
    assertThat(entry.scene()).isEqualTo(scene);
    assertThat(entry.requestId()).isEqualTo("req-c1");
    assertThat(entry.unpriced()).isFalse();

    ChargeResult other =
        ledger.charge(
            new ChargeRequest(
                account, "c2", "", scene, "anthropic", "claude", EXAMPLE_USAGE, true, "{\"k\":1}"));
    assertThat(other.quote())
        .isEqualTo(new Quote(EXAMPLE_COST_MICROS, EXAMPLE_CREDITS, general.id(), false));
    assertThat(other.entry().estimated()).isTrue();
    assertThat(other.entry().metadata()).isEqualTo("{\"k\":1}");
    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.balance()).isEqualTo(95);
    assertThat(stored.consumed()).isEqualTo(5);
    assertThat(ledger.quote(scene, "x", "y", EXAMPLE_USAGE).credits()).isEqualTo(EXAMPLE_CREDITS);
  }

  @Test
  void chargeWithoutAMatchingRuleIsRecordedAtCostZeroAndFlaggedUnpriced() {
    String account = newAccount();
    long before = ledger.stats().unpricedCharges();

    ChargeResult result = ledger.charge(charge(account, "c1", newScene(), EXAMPLE_USAGE));

    assertThat(result.status()).isEqualTo(ChargeResult.Status.APPLIED);
    assertThat(result.quote()).isEqualTo(Quote.UNPRICED);
    assertThat(result.entry().unpriced()).isTrue();
    assertThat(result.entry().amount()).isZero();
    assertThat(result.entry().usage()).isEqualTo(EXAMPLE_USAGE);
    assertThat(ledger.stats().unpricedCharges()).isEqualTo(before + 1);
    assertThat(ledger.account(account).orElseThrow().version()).isEqualTo(1);
  }

  @Test
  void chargeWithoutAMatchingRuleCostsTheFallbackWhenOneIsSetStillFlaggedUnpriced()
      throws IOException {
    ledger.close();
    ledger = builder().unpricedFallback(40).commitListener(commits::add).build();
    String account = newAccount();
    String scene = newScene();
    assertThat(ledger.unpricedFallbackCreditsPer1kTokens()).isEqualTo(40);
    // 1,000 input and 500 output tokens at 40 credits per 1,000.
    assertThat(ledger.quote(scene, "openai", "gpt-test", EXAMPLE_USAGE))
        .isEqualTo(new Quote(0, 60, 0, true));

    ChargeResult result = ledger.charge(charge(account, "c1", scene, EXAMPLE_USAGE));

    assertThat(result.quote()).isEqualTo(new Quote(0, 60, 0, true));
    assertThat(result.entry().unpriced()).isTrue();
    assertThat(result.entry().amount()).isEqualTo(-60);
    assertThat(result.entry().priceRuleId()).isZero();
    assertThat(ledger.quote(scene, "openai", "gpt-test", new Usage(1, 0, 0, 0)).credits())
        .as("rounded up")
        .isEqualTo(1);
    assertThatThrownBy(() -> builder().unpricedFallback(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unpricedFallbackCreditsPer1kTokens");
  }

  @Test
  void sameChargeTwiceIsReplayedAndADifferentOneConflicts() {
    String scene = newScene();
    ledger.createPriceRule(exampleRule(scene));
    String account = newAccount();
    ChargeResult first = ledger.charge(charge(account, "c1", scene, EXAMPLE_USAGE));
    ChargeResult again = ledger.charge(charge(account, "c1", scene, EXAMPLE_USAGE));

    assertThat(again.status()).isEqualTo(ChargeResult.Status.REPLAYED);
    assertThat(again.entry()).isEqualTo(first.entry());
    assertThat(again.quote()).isEqualTo(first.quote());
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(-EXAMPLE_CREDITS);

    assertThatThrownBy(
            () -> ledger.charge(charge(account, "c1", scene, new Usage(1000, 501, 200, 100))))
        .isInstanceOf(IdempotencyConflictException.class)
        .hasMessageContaining("usage was");
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(-EXAMPLE_CREDITS);
  }

  @Test
  void chargesMayTakeTheBalanceBelowZero() {
    String scene = newScene();
    ledger.createPriceRule(exampleRule(scene));
    String account = newAccount();
    ledger.grant(account, 1, "g1", "admin", "");
    ledger.charge(charge(account, "c1", scene, EXAMPLE_USAGE));
    ledger.charge(charge(account, "c2", scene, EXAMPLE_USAGE));

    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.balance()).isEqualTo(1 - 2 * EXAMPLE_CREDITS);
    assertThat(ledger.verify(account).consistent()).isTrue();
  }

  // ---------------------------------------------------------------- refunds, adjustments, blocks

  @Test
  void refundsAreCumulativelyCappedAtTheCharge() {
    String scene = newScene();
    ledger.createPriceRule(
        new PriceRule(0, scene, "", "", 1_000_000, 1_000_000, 0, 0, 1, 0, 0, true));
    String account = newAccount();
    ledger.grant(account, 100, "g1", "admin", "");
    // 50,000 input tokens at 1,000,000 micros per 1K tokens: 50,000,000 micros; 1 credit per unit:
    // 50 credits.
    ChargeResult charged = ledger.charge(charge(account, "c1", scene, new Usage(50_000, 0, 0, 0)));
    assertThat(charged.entry().amount()).isEqualTo(-50);

    LedgerEntry part = ledger.refund(account, "c1", 20, "r1", "support", "bad answer");
    assertThat(part.kind()).isEqualTo(EntryKind.REFUND);
    assertThat(part.amount()).isEqualTo(20);
    assertThat(part.metadata()).contains("c1");
    assertThat(ledger.refund(account, "c1", 20, "r1", "support", "bad answer")).isEqualTo(part);
    assertThatThrownBy(() -> ledger.refund(account, "c1", 31, "r2", "support", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("refund amount 31 exceeds the 30 credits");
    ledger.refund(account, "c1", 30, "r2", "support", "");
    assertThatThrownBy(() -> ledger.refund(account, "c1", 1, "r3", "support", ""))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ledger.refund(account, "g1", 1, "r4", "support", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("chargeEventId 'g1' is not a charge");

    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.balance()).isEqualTo(100);
    assertThat(stored.refunded()).isEqualTo(50);
    assertThat(stored.consumed()).isEqualTo(50);
    assertThat(stored.version()).isEqualTo(4);
    assertThat(ledger.verify(account).consistent()).isTrue();
  }

  @Test
  void adjustmentsAreSignedAndNeedAReasonAndAnAccount() {
    String account = newAccount();
    ledger.grant(account, 10, "g1", "admin", "");
    assertThat(ledger.adjust(account, -25, "a1", "ops", "double top-up").balanceAfter())
        .isEqualTo(-15);
    assertThat(ledger.adjust(account, 5, "a2", "ops", "goodwill").balanceAfter()).isEqualTo(-10);
    assertThatThrownBy(() -> ledger.adjust(account, 5, "a3", "ops", " "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("reason");
    assertThatThrownBy(() -> ledger.adjust(newAccount(), 5, "a4", "ops", "x"))
        .isInstanceOf(AccountNotFoundException.class);
    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.granted()).isEqualTo(10);
    assertThat(stored.balance()).isEqualTo(-10);
    assertThat(ledger.verify(account).consistent()).isTrue();
  }

  @Test
  void blockAndUnblockAreRecordedWithActorAndReason() {
    String account = newAccount();
    ledger.grant(account, 10, "g1", "admin", "");
    LedgerEntry block = ledger.block(account, "b1", "alice", "abuse report");
    assertThat(block.kind()).isEqualTo(EntryKind.BLOCK);
    assertThat(block.amount()).isZero();
    assertThat(block.actor()).isEqualTo("alice");
    assertThat(block.reason()).isEqualTo("abuse report");
    assertThat(ledger.account(account).orElseThrow().blocked()).isTrue();
    assertThat(ledger.fetchSnapshot(account).orElseThrow().canSpend()).isFalse();

    ledger.unblock(account, "u1", "bob", "resolved");
    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.blocked()).isFalse();
    assertThat(stored.version()).isEqualTo(3);
    assertThat(ledger.verify(account).consistent()).isTrue();
    assertThatThrownBy(() -> ledger.block(newAccount(), "b2", "alice", ""))
        .isInstanceOf(AccountNotFoundException.class);
  }

  // ---------------------------------------------------------------- listings

  @Test
  void entriesArePagedNewestFirst() {
    String account = newAccount();
    for (int i = 1; i <= 5; i++) {
      ledger.grant(account, i, "g" + i, "admin", "");
    }
    Page<LedgerEntry> first = ledger.entries(account, null, 2);
    assertThat(first.items()).extracting(LedgerEntry::eventId).containsExactly("g5", "g4");
    Page<LedgerEntry> second = ledger.entries(account, first.nextCursor(), 2);
    assertThat(second.items()).extracting(LedgerEntry::eventId).containsExactly("g3", "g2");
    Page<LedgerEntry> last = ledger.entries(account, second.nextCursor(), 2);
    assertThat(last.items()).extracting(LedgerEntry::eventId).containsExactly("g1");
    assertThat(last.nextCursor()).isNull();
    assertThat(ledger.entry(account, "missing")).isEmpty();
    assertThatThrownBy(() -> ledger.entries(account, "abc", 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'abc'");
    assertThatThrownBy(() -> ledger.entries(account, null, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("limit");
  }

  @Test
  void priceRulesAreCreatedListedAndUpdated() {
    String scene = newScene();
    PriceRule created = ledger.createPriceRule(exampleRule(scene));
    assertThat(created.id()).isPositive();
    assertThat(ledger.priceRules()).contains(created);

    PriceRule inactive = created.withActive(false);
    assertThat(ledger.updatePriceRule(inactive)).isEqualTo(inactive);
    assertThat(ledger.priceRules()).contains(inactive).doesNotContain(created);
    assertThat(ledger.quote(scene, "", "", EXAMPLE_USAGE)).isEqualTo(Quote.UNPRICED);
    assertThatThrownBy(() -> ledger.updatePriceRule(created.withId(Long.MAX_VALUE)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Long.toString(Long.MAX_VALUE));
    assertThatThrownBy(() -> ledger.updatePriceRule(created.withId(0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("was 0");
  }

  // ---------------------------------------------------------------- bad input and overflow

  @Test
  void badInputIsRejectedNamingTheValueAndChangesNothing() {
    String account = newAccount();
    ledger.grant(account, 10, "g1", "admin", "");
    assertThatThrownBy(() -> ledger.grant(account, 0, "g2", "admin", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("but was 0");
    assertThatThrownBy(() -> ledger.grant(account, -5, "g2", "admin", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-5");
    assertThatThrownBy(() -> ledger.grant(account, 5, "bad id", "admin", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'bad id'");
    assertThatThrownBy(() -> ledger.grant("no/slash", 5, "g2", "admin", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'no/slash'");
    assertThatThrownBy(
            () ->
                ledger.charge(
                    new ChargeRequest(account, "c1", "", "", "", "", Usage.ZERO, false, "[1]")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'[1]'");
    assertThatThrownBy(
            () ->
                ledger.charge(
                    new ChargeRequest(
                        account, "c1", "", "", "", "", Usage.ZERO, false, "{not json}")))
        .isInstanceOf(IllegalArgumentException.class);
    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.balance()).isEqualTo(10);
    assertThat(stored.version()).isEqualTo(1);
    assertThat(ledger.entry(account, "c1")).isEmpty();
  }

  @Test
  void overflowIsRejectedNamingTheValue() throws Exception {
    String account = newAccount();
    ledger.grant(account, 10, "g1", "admin", "");
    // Reaching Long.MAX_VALUE through the API would take ~9,000 grants of MAX_AMOUNT: place the
    // balance there.
    long nearMax = Long.MAX_VALUE - 5;
    try (Connection c = ledger.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.executeUpdate("UPDATE accounts SET balance = " + nearMax + " WHERE id = '" + account + "'");
    }
    assertThatThrownBy(() -> ledger.grant(account, 10, "overflow", "admin", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("overflow the balance")
        .hasMessageContaining(Long.toString(nearMax));
    assertThatThrownBy(
            () -> ledger.grant(account, LedgerChecks.MAX_AMOUNT + 1, "too-big", "admin", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Long.toString(LedgerChecks.MAX_AMOUNT + 1));
    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.balance()).isEqualTo(nearMax);
    assertThat(stored.version()).isEqualTo(1);
    assertThat(ledger.entry(account, "overflow")).isEmpty();
  }

  // ---------------------------------------------------------------- verification

  @Test
  void verifyFindsABalanceChangedBehindTheLedgersBack() throws Exception {
    String account = newAccount();
    ledger.grant(account, 10, "g1", "admin", "");
    assertThat(ledger.verify(account).consistent()).isTrue();
    assertThat(ledger.verifyAll()).noneMatch(result -> result.accountId().equals(account));

    try (Connection c = ledger.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.executeUpdate("UPDATE accounts SET balance = balance + 7 WHERE id = '" + account + "'");
    }
    VerifyResult result = ledger.verify(account);
    assertThat(result.consistent()).isFalse();
    assertThat(result.balance()).isEqualTo(17);
    assertThat(result.sumOfEntries()).isEqualTo(10);
    assertThat(result.problems()).anyMatch(problem -> problem.contains("balance 17 differs"));
    assertThat(ledger.verifyAll()).anyMatch(r -> r.accountId().equals(account));
    try (Connection c = ledger.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.executeUpdate("UPDATE accounts SET balance = balance - 7 WHERE id = '" + account + "'");
    }
    assertThatThrownBy(() -> ledger.verify(newAccount()))
        .isInstanceOf(AccountNotFoundException.class);
  }

  // ---------------------------------------------------------------- concurrency

  @Test
  void concurrentChargesOnOneAccountLoseNoUpdate() throws Exception {
    String scene = newScene();
    ledger.createPriceRule(exampleRule(scene));
    String account = newAccount();
    ledger.grant(account, 1_000_000, "g1", "admin", "");
    int threads = 8;
    int perThread = chargesPerThread();
    List<Callable<Void>> tasks = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      tasks.add(
          () -> {
            for (int i = 0; i < perThread; i++) {
              ChargeResult result =
                  ledger.charge(charge(account, "c-" + thread + "-" + i, scene, EXAMPLE_USAGE));
              assertThat(result.status()).isEqualTo(ChargeResult.Status.APPLIED);
            }
            return null;
          });
    }
    runAll(tasks);

    Account stored = ledger.account(account).orElseThrow();
    long charges = (long) threads * perThread;
    assertThat(stored.balance()).isEqualTo(1_000_000 - charges * EXAMPLE_CREDITS);
    assertThat(stored.consumed()).isEqualTo(charges * EXAMPLE_CREDITS);
    assertThat(stored.version()).isEqualTo(charges + 1);
    assertThat(ledger.verify(account).consistent()).isTrue();
  }

  @Test
  void concurrentChargesWithOneEventIdMakeOneEntry() throws Exception {
    String scene = newScene();
    ledger.createPriceRule(exampleRule(scene));
    String account = newAccount();
    AtomicInteger applied = new AtomicInteger();
    AtomicInteger replayed = new AtomicInteger();
    List<Callable<Void>> tasks = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      tasks.add(
          () -> {
            ChargeResult result = ledger.charge(charge(account, "same", scene, EXAMPLE_USAGE));
            (result.status() == ChargeResult.Status.APPLIED ? applied : replayed).incrementAndGet();
            return null;
          });
    }
    runAll(tasks);

    assertThat(applied.get()).isEqualTo(1);
    assertThat(replayed.get()).isEqualTo(7);
    assertThat(ledger.entries(account, null, 100).items()).hasSize(1);
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(-EXAMPLE_CREDITS);
  }

  @Test
  void concurrentGrantsWithOneEventIdOnANewAccountMakeOneEntry() throws Exception {
    String account = newAccount();
    List<Callable<Void>> tasks = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      tasks.add(
          () -> {
            ledger.grant(account, 42, "same", "admin", "");
            return null;
          });
    }
    runAll(tasks);
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(42);
    assertThat(ledger.entries(account, null, 100).items()).hasSize(1);
  }

  @Test
  void aRefusedChargeNeverSinksTheOthersCommittedWithIt() throws Exception {
    String scene = newScene();
    ledger.createPriceRule(exampleRule(scene));
    String account = newAccount();
    ledger.charge(charge(account, "taken", scene, EXAMPLE_USAGE));
    int rounds = 5;
    AtomicInteger refused = new AtomicInteger();
    for (int round = 0; round < rounds; round++) {
      int r = round;
      List<Callable<Void>> tasks = new ArrayList<>();
      for (int t = 0; t < 6; t++) {
        int thread = t;
        tasks.add(
            () -> {
              ledger.charge(charge(account, "ok-" + r + "-" + thread, scene, EXAMPLE_USAGE));
              return null;
            });
      }
      // Refused by the ledger (conflict) and by the database (metadata that is not JSON).
      tasks.add(
          () -> {
            try {
              ledger.charge(charge(account, "taken", scene, new Usage(1, 1, 0, 0)));
            } catch (IdempotencyConflictException e) {
              refused.incrementAndGet();
            }
            return null;
          });
      tasks.add(
          () -> {
            try {
              ledger.charge(
                  new ChargeRequest(
                      account, "bad-" + r, "", scene, "", "", EXAMPLE_USAGE, false, "{oops}"));
            } catch (IllegalArgumentException e) {
              refused.incrementAndGet();
            }
            return null;
          });
      runAll(tasks);
    }
    assertThat(refused.get()).isEqualTo(2 * rounds);
    Account stored = ledger.account(account).orElseThrow();
    assertThat(stored.version()).isEqualTo(1 + 6L * rounds);
    assertThat(stored.balance()).isEqualTo(-(1 + 6L * rounds) * EXAMPLE_CREDITS);
    assertThat(ledger.verify(account).consistent()).isTrue();
  }

  /** Starts the tasks together and waits for all, rethrowing the first failure. */
  static void runAll(List<Callable<Void>> tasks) throws Exception {
    ExecutorService executor = Executors.newFixedThreadPool(tasks.size());
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Void>> futures = new ArrayList<>();
      for (Callable<Void> task : tasks) {
        futures.add(
            executor.submit(
                () -> {
                  start.await();
                  return task.call();
                }));
      }
      start.countDown();
      for (Future<Void> future : futures) {
        future.get();
      }
    } finally {
      executor.shutdownNow();
    }
  }

  // ---------------------------------------------------------------- the commit listener

  /** The versions the listener was told for the account, in order. */
  List<CreditSnapshot> reported(String account) {
    synchronized (commits) {
      return commits.stream()
          .filter(states -> states.containsKey(account))
          .map(states -> states.get(account))
          .toList();
    }
  }

  @Test
  void theListenerIsToldEachCommittedStateOnceWithIncreasingVersions() {
    String account = newAccount();
    ledger.openAccount(account);
    ledger.grant(account, 5, "g1", "admin", "top-up");
    ledger.block(account, "b1", "alice", "abuse");
    ledger.unblock(account, "u1", "alice", "resolved");

    List<CreditSnapshot> states = reported(account);
    assertThat(states).extracting(CreditSnapshot::version).containsExactly(1L, 2L, 3L);
    assertThat(states).extracting(CreditSnapshot::availableCredit).containsExactly(5L, 5L, 5L);
    assertThat(states).extracting(CreditSnapshot::blocked).containsExactly(false, true, false);
    assertThat(states.get(2)).isEqualTo(ledger.account(account).orElseThrow().snapshot());
  }

  @Test
  void aChargeToZeroIsToldToTheListenerBeforeItReturns() {
    String scene = newScene();
    ledger.createPriceRule(exampleRule(scene));
    String account = newAccount();
    ledger.grant(account, EXAMPLE_CREDITS, "g1", "admin", "");
    ledger.charge(charge(account, "c1", scene, EXAMPLE_USAGE));

    CreditSnapshot last = reported(account).get(reported(account).size() - 1);
    assertThat(last.version()).isEqualTo(2);
    assertThat(last.canSpend()).isFalse();
  }

  @Test
  void concurrentChargesOfManyAccountsReportEachAccountOncePerCommit() throws Exception {
    String scene = newScene();
    ledger.createPriceRule(exampleRule(scene));
    List<String> accounts = List.of(newAccount(), newAccount(), newAccount());
    for (String account : accounts) {
      ledger.grant(account, 1_000, "g-" + account, "admin", "");
    }
    List<Callable<Void>> tasks = new ArrayList<>();
    for (int n = 0; n < 60; n++) {
      String account = accounts.get(n % accounts.size());
      String eventId = "c" + n;
      tasks.add(
          () -> {
            ledger.charge(charge(account, eventId, scene, EXAMPLE_USAGE));
            return null;
          });
    }
    runAll(tasks);
    for (String account : accounts) {
      List<Long> versions = reported(account).stream().map(CreditSnapshot::version).toList();
      assertThat(versions).as("each commit reports the account once").doesNotHaveDuplicates();
      assertThat(Collections.max(versions))
          .isEqualTo(ledger.account(account).orElseThrow().version());
    }
  }

  @Test
  void aFailingListenerNeverFailsTheLedgerAndIsCounted() throws IOException {
    ledger.close();
    AtomicInteger calls = new AtomicInteger();
    ledger =
        builder()
            .commitListener(
                states -> {
                  calls.incrementAndGet();
                  throw new IllegalStateException("down");
                })
            .build();
    String account = newAccount();

    assertThat(ledger.grant(account, 10, "g1", "admin", "").balanceAfter()).isEqualTo(10);
    assertThat(ledger.block(account, "b1", "admin", "").kind()).isEqualTo(EntryKind.BLOCK);

    assertThat(calls.get()).isEqualTo(2);
    assertThat(ledger.stats().cacheWriteFailures()).isEqualTo(2);
  }
}

package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.creditgate.CreditSnapshot;
import dev.creditgate.ledger.ChargeIntent;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerCommitListener;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Write-behind: a charge is journaled and acknowledged before its database write, and must still be
 * applied exactly once: after a crash (the journal replayed at the next start), a power loss
 * (intents without their charge estimated) and a database outage (queued charges spooled).
 */
abstract class AbstractWriteBehindLedgerTest {

  static final Usage USAGE = AbstractCreditLedgerContractTest.EXAMPLE_USAGE;
  static final long CREDITS = AbstractCreditLedgerContractTest.EXAMPLE_CREDITS;

  /** Journal files of an open ledger: the current one and the next, created ahead of time. */
  static final int OPEN_FILES = 2;

  @TempDir Path directory;

  Path spool;
  String scene;
  String account;

  @BeforeEach
  void names() {
    spool = directory.resolve("spool");
    scene = "scene-" + UUID.randomUUID();
    account = "acct-" + UUID.randomUUID();
  }

  /** A JDBC URL of a database that {@link #takeDatabaseAway()} can take away. */
  abstract String jdbcUrl();

  abstract void takeDatabaseAway() throws Exception;

  abstract void bringDatabaseBack() throws Exception;

  /**
   * Makes the ledger's writes of {@code account} wait (until their statement timeout) rather than
   * fail.
   */
  void holdWrites(String account) throws Exception {
    takeDatabaseAway();
  }

  void releaseWrites() throws Exception {
    bringDatabaseBack();
  }

  @AfterEach
  void restore() throws Exception {
    releaseWrites();
    bringDatabaseBack();
  }

  JdbcCreditLedger open() {
    return open(Duration.ofSeconds(1));
  }

  /**
   * With {@code timeout} for connections and statements: how long a charge stays queued while the
   * database is away.
   */
  JdbcCreditLedger open(Duration timeout) {
    return open(timeout, LedgerCommitListener.NONE);
  }

  JdbcCreditLedger open(Duration timeout, LedgerCommitListener listener) {
    return JdbcCreditLedger.builder()
        .commitListener(listener)
        .jdbcUrl(jdbcUrl())
        .spoolDirectory(spool)
        .writeBehind(true)
        .connectionTimeout(timeout)
        .statementTimeout(timeout)
        .replayInterval(Duration.ofMillis(100))
        .build();
  }

  /** As {@link #open()}, without the migration at start (which needs the database). */
  JdbcCreditLedger openWithoutMigrating() {
    return JdbcCreditLedger.builder()
        .jdbcUrl(jdbcUrl())
        .spoolDirectory(spool)
        .writeBehind(true)
        .migrate(false)
        .connectionTimeout(Duration.ofSeconds(1))
        .statementTimeout(Duration.ofSeconds(1))
        .replayInterval(Duration.ofMillis(100))
        .build();
  }

  ChargeRequest charge(String eventId) {
    return new ChargeRequest(
        account, eventId, "req-" + eventId, scene, "openai", "gpt-test", USAGE, false, "{}");
  }

  ChargeRequest estimate(String eventId, long input, long output) {
    return new ChargeRequest(
        account,
        eventId,
        "req-" + eventId,
        scene,
        "openai",
        "gpt-test",
        new Usage(input, output, 0, 0),
        true,
        "{}");
  }

  long charges(JdbcCreditLedger ledger) {
    return ledger.entries(account, null, 1000).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .count();
  }

  List<Path> journalFiles() throws Exception {
    return JournalSegment.files(spool);
  }

  @Test
  void aQueuedChargeIsAcknowledgedAtOnceAndReadsSeeIt() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
      List<Future<ChargeResult>> results = new ArrayList<>();
      for (int n = 0; n < 200; n++) {
        String id = "c" + n;
        results.add(pool.submit(() -> ledger.charge(charge(id))));
      }
      for (Future<ChargeResult> f : results) {
        ChargeResult r = f.get();
        assertThat(r.status()).isEqualTo(ChargeResult.Status.QUEUED);
        assertThat(r.entry()).isNull();
        assertThat(r.quote().credits()).isEqualTo(CREDITS);
      }
      pool.close();
      // A read of the account waits for its queued charges: it sees all 200.
      assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(1_000 - 200 * CREDITS);
      assertThat(ledger.awaitCharges(account, Duration.ZERO)).isTrue();
      assertThat(charges(ledger)).isEqualTo(200);
      assertThat(ledger.verify(account).consistent()).isTrue();
      // The same event again is a replay of the written charge, not a second one.
      ledger.charge(charge("c7"));
      assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(1_000 - 200 * CREDITS);
      assertThat(charges(ledger)).isEqualTo(200);
      assertThat(ledger.eventRecorded(account, "c7")).isTrue();
      assertThat(ledger.eventRecorded(account, "c999")).isFalse();
      // Files whose charges are all written go once the journal rolls over.
      await().atMost(Duration.ofSeconds(10)).until(() -> journalFiles().size() <= OPEN_FILES);
    }
    assertThat(journalFiles()).as("a clean close leaves no journal").isEmpty();
  }

  @Test
  void queuedChargesArePendingDebitsUntilTheSnapshotShowsThem() throws Exception {
    try (JdbcCreditLedger ledger = open(Duration.ofSeconds(5))) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      ledger.charge(charge("before"));
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      CreditSnapshot before = ledger.account(account).orElseThrow().snapshot();
      assertThat(ledger.pendingDebits(account, before))
          .as("the snapshot has every charge")
          .isZero();
      holdWrites(account);
      // The account's writes wait (up to the timeout): what is charged now stays queued that long.
      assertThat(ledger.charge(charge("q1")).status()).isEqualTo(ChargeResult.Status.QUEUED);
      assertThat(ledger.charge(charge("q2")).status()).isEqualTo(ChargeResult.Status.QUEUED);
      assertThat(ledger.pendingDebits(account, before)).isEqualTo(2 * CREDITS);
      assertThat(ledger.pendingDebits("acct-" + UUID.randomUUID(), before))
          .as("another account")
          .isZero();
      releaseWrites();
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(20))).isTrue();
      await().atMost(Duration.ofSeconds(20)).until(() -> ledger.stats().spoolPending() == 0);
      assertThat(ledger.pendingDebits(account, before))
          .as("committed, but newer than the snapshot: counted once, from this ledger's commit")
          .isEqualTo(2 * CREDITS);
      CreditSnapshot after = ledger.account(account).orElseThrow().snapshot();
      assertThat(after.availableCredit()).isEqualTo(1_000 - 3 * CREDITS);
      assertThat(ledger.pendingDebits(account, after)).as("the snapshot includes them").isZero();
    }
  }

  @Test
  void aDebitIsNeverCountedTwiceAcrossItsCommit() throws Exception {
    List<Long> wrongDuringCommits = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.atomic.AtomicReference<JdbcCreditLedger> self =
        new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicReference<CreditSnapshot> stale =
        new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicLong accepted = new java.util.concurrent.atomic.AtomicLong();
    // Told each commit's states: the pending debits of the newest state are what is still queued,
    // never the committed charges again.
    LedgerCommitListener listener =
        states -> {
          CreditSnapshot state = states.get(account);
          if (state != null && self.get() != null && stale.get() != null) {
            long pending = self.get().pendingDebits(account, state);
            if (pending < 0 || pending > accepted.get() * CREDITS) {
              wrongDuringCommits.add(pending);
            }
          }
        };
    try (JdbcCreditLedger ledger = open(Duration.ofSeconds(5), listener)) {
      self.set(ledger);
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 100_000, "g1", "admin", "");
      CreditSnapshot before = ledger.account(account).orElseThrow().snapshot();
      stale.set(before);
      for (int n = 1; n <= 300; n++) {
        accepted.set(n);
        assertThat(ledger.charge(charge("c" + n)).status())
            .isIn(ChargeResult.Status.QUEUED, ChargeResult.Status.APPLIED);
        // Whether the committer has written none, some or all of them: each counted exactly once.
        assertThat(ledger.pendingDebits(account, before)).isEqualTo(n * CREDITS);
        if (n % 50 == 0) {
          Thread.sleep(60);
        }
      }
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(20))).isTrue();
      assertThat(ledger.pendingDebits(account, before)).isEqualTo(300 * CREDITS);
      assertThat(ledger.pendingDebits(account, ledger.account(account).orElseThrow().snapshot()))
          .isZero();
      assertThat(wrongDuringCommits).isEmpty();
    }
  }

  @Test
  void aRejectedQueuedChargeStopsCounting() throws Exception {
    try (JdbcCreditLedger ledger = open(Duration.ofSeconds(5))) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      ledger.charge(charge("before"));
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      CreditSnapshot before = ledger.account(account).orElseThrow().snapshot();
      holdWrites(account);
      // Looks like a JSON object to the ledger's checks; the database refuses it when writing.
      ChargeRequest bad =
          new ChargeRequest(
              account, "bad", "req-bad", scene, "openai", "gpt-test", USAGE, false, "{not json}");
      assertThat(ledger.charge(bad).status()).isEqualTo(ChargeResult.Status.QUEUED);
      assertThat(ledger.pendingDebits(account, before)).isEqualTo(CREDITS);
      releaseWrites();
      await().atMost(Duration.ofSeconds(20)).until(() -> ledger.stats().rejectedTotal() == 1);
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      assertThat(ledger.pendingDebits(account, before)).isZero();
      assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(1_000 - CREDITS);
    }
  }

  @Test
  void theListenerIsToldEveryCommitOnceWithTheStatesOfItsAccounts() throws Exception {
    List<Map<String, CreditSnapshot>> commits =
        java.util.Collections.synchronizedList(new ArrayList<>());
    // Two accounts of one committer (their ids hash alike): a group commit reports both at once.
    String base = "acct-" + UUID.randomUUID();
    String first = base + "Aa";
    String second = base + "BB";
    try (JdbcCreditLedger ledger = open(Duration.ofSeconds(5), commits::add)) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(first, 1_000, "g1", "admin", "");
      ledger.grant(second, 1_000, "g2", "admin", "");
      ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
      List<Future<ChargeResult>> results = new ArrayList<>();
      for (int n = 0; n < 100; n++) {
        String id = "c" + n;
        String target = n % 2 == 0 ? first : second;
        results.add(
            pool.submit(
                () ->
                    ledger.charge(
                        new ChargeRequest(
                            target,
                            id,
                            "req-" + id,
                            scene,
                            "openai",
                            "gpt-test",
                            USAGE,
                            false,
                            "{}"))));
      }
      for (Future<ChargeResult> f : results) {
        f.get();
      }
      pool.close();
      assertThat(ledger.awaitCharges(first, Duration.ofSeconds(10))).isTrue();
      assertThat(ledger.awaitCharges(second, Duration.ofSeconds(10))).isTrue();
      for (String id : List.of(first, second)) {
        List<Long> versions;
        synchronized (commits) {
          versions =
              commits.stream()
                  .filter(states -> states.containsKey(id))
                  .map(states -> states.get(id).version())
                  .toList();
        }
        assertThat(versions).as("one report per commit").doesNotHaveDuplicates();
        assertThat(java.util.Collections.max(versions))
            .isEqualTo(ledger.account(id).orElseThrow().version());
      }
      assertThat(commits)
          .as("group commits report several accounts at once")
          .anySatisfy(states -> assertThat(states).hasSize(2));
    }
  }

  @Test
  void aCommittedSnapshotReadDoesNotWaitForTheAccountsQueuedCharges() throws Exception {
    try (JdbcCreditLedger ledger = open(Duration.ofSeconds(5))) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      long before = ledger.committedSnapshot(account).orElseThrow().availableCredit();
      holdWrites(account);
      ledger.charge(charge("c1"));
      long started = System.nanoTime();
      // The charge is queued and its commit waits: the read answers the committed state at once.
      assertThat(ledger.committedSnapshot(account).orElseThrow().availableCredit())
          .isEqualTo(before);
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(500));
      releaseWrites();
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      assertThat(ledger.committedSnapshot(account).orElseThrow().availableCredit())
          .isLessThan(before);
    }
  }

  @Test
  void aBatchMixingNewChargesWithReplaysWritesEachChargeOnce() throws Exception {
    try (JdbcCreditLedger ledger = open(Duration.ofSeconds(5))) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      ledger.charge(charge("old-1"));
      ledger.charge(charge("old-2"));
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      // Round 0 meets a stored entry after writing new ones (rolled back, applied again looking
      // first); round 1 starts looking first.
      for (int round = 0; round < 2; round++) {
        long batchesBefore = ledger.stats().groupCommits();
        holdWrites(account);
        for (int n = 0; n < 5; n++) {
          ledger.charge(charge("new-" + round + "-" + n));
        }
        ledger.charge(charge("old-1"));
        ledger.charge(charge("new-" + round + "-0"));
        releaseWrites();
        assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
        // The committer counts a batch once it has handed out its outcomes: a moment after the wait
        // ends.
        await()
            .atMost(Duration.ofSeconds(5))
            .untilAsserted(
                () ->
                    assertThat(ledger.stats().groupCommits())
                        .as("written in batches")
                        .isGreaterThan(batchesBefore));
      }
      assertThat(charges(ledger)).isEqualTo(2 + 2 * 5);
      assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(1_000 - 12 * CREDITS);
      assertThat(ledger.verify(account).consistent()).isTrue();
      assertThat(ledger.stats().spooledTotal()).isZero();
    }
  }

  @Test
  void aQueuedChargeIsRecognisedAsSpentBeforeItIsWritten() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      // Read the price rules while the database is there (a charge priced without them is spooled).
      ledger.charge(charge("before"));
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      takeDatabaseAway();
      assertThat(ledger.charge(charge("held")).status()).isEqualTo(ChargeResult.Status.QUEUED);
      assertThat(ledger.eventRecorded(account, "held")).as("known without the database").isTrue();
      bringDatabaseBack();
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      await().atMost(Duration.ofSeconds(10)).until(() -> ledger.stats().spoolPending() == 0);
      assertThat(charges(ledger)).isEqualTo(2);
    }
  }

  @Test
  void chargesQueuedDuringAnOutageAreSpooledAndAppliedExactlyOnce() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      takeDatabaseAway();
      List<ChargeResult> during = new ArrayList<>();
      for (int n = 0; n < 20; n++) {
        during.add(ledger.charge(charge("c" + n)));
      }
      // The first ones are queued; once the committer gives up on the database they are spooled,
      // and charges after that go straight to the spool, in order.
      assertThat(during)
          .allSatisfy(
              r ->
                  assertThat(r.status())
                      .isIn(ChargeResult.Status.QUEUED, ChargeResult.Status.SPOOLED));
      await().atMost(Duration.ofSeconds(20)).until(() -> ledger.stats().spoolPending() == 20);
      bringDatabaseBack();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
      assertThat(charges(ledger)).isEqualTo(20);
      assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(1_000 - 20 * CREDITS);
      assertThat(ledger.charge(charge("after")).status()).isEqualTo(ChargeResult.Status.QUEUED);
      assertThat(charges(ledger)).isEqualTo(21);
    }
  }

  @Test
  void aCheckModeCallInFlightAtACrashIsChargedItsOutputCapForEveryChoice() throws Exception {
    // Check mode holds nothing, but its journaled intent is the call's worst case all the same: the
    // route's output cap (sent to the upstream when the request set none) for each of its n
    // choices, so a call a crash interrupts is charged for every choice it may have been served.
    dev.creditgate.meter.Estimate threeChoices =
        new dev.creditgate.meter.Estimate("openai", "gpt-test", 1000, 700, 3);
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      dev.creditgate.InMemoryCreditCache cache = dev.creditgate.InMemoryCreditCache.create();
      try (dev.creditgate.SnapshotPublisher publisher =
              dev.creditgate.SnapshotPublisher.builder(cache).build();
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
                  .prices(ledger)
                  .store(ledger)
                  .mode(dev.creditgate.meter.CreditMode.CHECK)
                  .build()) {
        dev.creditgate.meter.MeteredCall call =
            meter.open(
                new dev.creditgate.BillingContext(
                    account, "in-flight", scene, "", "", "pro", false),
                threeChoices);
        assertThat(call.admission().isAdmitted()).isTrue();
        assertThat(call.reserved()).as("check mode holds nothing").isZero();
        // The process dies while the upstream serves the call: it is never settled.
        ledger.crash();
      }
    }
    try (JdbcCreditLedger ledger = open()) {
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> ledger.entry(account, "in-flight").isPresent());
      LedgerEntry inFlight = ledger.entry(account, "in-flight").orElseThrow();
      assertThat(inFlight.estimated()).isTrue();
      assertThat(inFlight.usage()).isEqualTo(new Usage(1000, 3 * 700, 0, 0));
      assertThat(inFlight.amount())
          .isEqualTo(
              -ledger.quote(scene, "openai", "gpt-test", new Usage(1000, 2100, 0, 0)).credits());
      assertThat(inFlight.metadata()).contains("\"recovered_estimate\":true");
    }
  }

  @Test
  void aCrashLosesNoJournaledChargeAndDoublesNone() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      // Already written to the database before the crash, its journal file not yet gone.
      ledger.charge(charge("written"));
      // Charged straight to the database (no charge record in the journal), its intent's file
      // still there.
      ledger.charge(charge("direct"));
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    }
    // What a process killed mid-flight leaves: journaled charges the database never got, one
    // already written, a call still in progress (an intent only), a call that ended uncharged.
    crashedJournal(
        ChargeJournal.bootId(),
        journal -> {
          for (int n = 0; n < 5; n++) {
            journal.charge(new SpoolRecord(Instant.now(), charge("lost" + n), null), "lost" + n);
          }
          journal.charge(new SpoolRecord(Instant.now(), charge("written"), null), "written");
          journal.intent(new SpoolRecord(Instant.now(), estimate("direct", 4000, 1000), null));
          journal.intent(new SpoolRecord(Instant.now(), estimate("in-flight", 4000, 1000), null));
          journal.intent(new SpoolRecord(Instant.now(), estimate("voided", 4000, 1000), null));
          journal.voided(account, "voided");
        });
    long estimate;
    try (JdbcCreditLedger ledger = open()) {
      estimate = ledger.quote(scene, "openai", "gpt-test", new Usage(4000, 1000, 0, 0)).credits();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
      assertThat(charges(ledger))
          .as(
              "5 recovered + 2 written, none twice; the call in flight when the process died is"
                  + " charged its estimate")
          .isEqualTo(8);
      LedgerEntry inFlight = ledger.entry(account, "in-flight").orElseThrow();
      assertThat(inFlight.estimated()).isTrue();
      assertThat(inFlight.usage()).isEqualTo(new Usage(4000, 1000, 0, 0));
      assertThat(inFlight.amount()).isEqualTo(-estimate);
      assertThat(inFlight.metadata()).contains("\"recovered_estimate\":true");
      assertThat(ledger.entry(account, "direct").orElseThrow().estimated())
          .as("a call charged before the crash keeps its own charge")
          .isFalse();
      assertThat(ledger.entry(account, "voided")).isEmpty();
      assertThat(ledger.account(account).orElseThrow().balance())
          .isEqualTo(1_000 - 7 * CREDITS - estimate);
      assertThat(ledger.stats().rejectedTotal()).isZero();
      assertThat(journalFiles())
          .as("the crashed journal is gone; only the new one")
          .hasSizeLessThanOrEqualTo(OPEN_FILES);
    }
    try (JdbcCreditLedger ledger = open()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
      assertThat(charges(ledger)).as("a second restart charges nothing more").isEqualTo(8);
      assertThat(ledger.account(account).orElseThrow().balance())
          .isEqualTo(1_000 - 7 * CREDITS - estimate);
    }
  }

  @Test
  void anUnfinishedCallsEstimateThatMeetsItsOwnChargeIsDropped() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      ledger.charge(charge("direct"));
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    }
    // The call was charged straight to the database; its intent's file outlived the process.
    crashedJournal(
        ChargeJournal.bootId(),
        journal ->
            journal.intent(new SpoolRecord(Instant.now(), estimate("direct", 4000, 1000), null)));
    // Restarted while the database is away: recovery may not be able to tell that the call was
    // charged, so its estimate may go to the spool; meeting the call's own charge on replay, it is
    // dropped, neither charged nor set aside.
    takeDatabaseAway();
    try (JdbcCreditLedger ledger = openWithoutMigrating()) {
      bringDatabaseBack();
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
      assertThat(charges(ledger)).isEqualTo(1);
      assertThat(ledger.entry(account, "direct").orElseThrow().estimated()).isFalse();
      assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(1_000 - CREDITS);
      assertThat(ledger.stats().rejectedTotal()).isZero();
      assertThat(spool.resolve(ChargeSpool.REJECTED_FILE)).doesNotExist();
    }
  }

  @Test
  void afterAPowerLossACallWhoseChargeRecordIsMissingIsChargedItsEstimate() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
    }
    // Written before a reboot (another boot id): the page cache may have lost the charge records
    // written after the intents' fsync.
    crashedJournal(
        "another-boot",
        journal -> {
          journal.intent(new SpoolRecord(Instant.now(), estimate("charge-lost", 4000, 1000), null));
          journal.intent(new SpoolRecord(Instant.now(), estimate("charge-kept", 4000, 1000), null));
          journal.charge(
              new SpoolRecord(Instant.now(), charge("charge-kept"), null), "charge-kept");
          journal.intent(new SpoolRecord(Instant.now(), estimate("voided", 4000, 1000), null));
          journal.voided(account, "voided");
        });
    try (JdbcCreditLedger ledger = open()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> ledger.stats().spoolPending() == 0);
      LedgerEntry lost = ledger.entry(account, "charge-lost").orElseThrow();
      assertThat(lost.estimated()).isTrue();
      assertThat(lost.usage().inputTokens()).isEqualTo(4000);
      assertThat(lost.usage().outputTokens()).isEqualTo(1000);
      assertThat(lost.amount()).isNegative();
      LedgerEntry kept = ledger.entry(account, "charge-kept").orElseThrow();
      assertThat(kept.estimated()).isFalse();
      assertThat(kept.amount()).isEqualTo(-CREDITS);
      assertThat(ledger.entry(account, "voided")).isEmpty();
      assertThat(charges(ledger)).isEqualTo(2);
    }
  }

  @Test
  void anIntentIsSyncedAndChargedThroughAndItsFileGoes() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      for (int n = 0; n < 20; n++) {
        try (ChargeIntent intent = ledger.recordIntent(estimate("i" + n, 100, 100))) {
          assertThat(intent.awaitDurable(Duration.ofSeconds(5))).isTrue();
          if (n % 2 == 0) {
            assertThat(intent.charge(charge("i" + n)).status())
                .isEqualTo(ChargeResult.Status.QUEUED);
          }
        }
      }
      assertThat(charges(ledger)).isEqualTo(10);
      await().atMost(Duration.ofSeconds(10)).until(() -> journalFiles().size() <= OPEN_FILES);
    }
    assertThat(journalFiles()).isEmpty();
    try (JdbcCreditLedger ledger = open()) {
      assertThat(charges(ledger)).isEqualTo(10);
    }
  }

  @Test
  void aQueuedChargeWhoseKeyAnotherGatewayChargedFirstIsChargedUnderAnIdOfItsOwn()
      throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
      ledger.grant(account, 1_000, "g1", "admin", "");
      // Another gateway's charge of the key, written first; this gateway's call used other tokens.
      ledger.charge(charge("key-1"));
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      ChargeRequest mine =
          new ChargeRequest(
              account,
              "key-1",
              "req-mine",
              scene,
              "openai",
              "gpt-test",
              new Usage(2000, 1000, 0, 0),
              false,
              "{\"alias\":\"pro\"}");
      assertThat(ledger.charge(mine).status()).isEqualTo(ChargeResult.Status.QUEUED);
      assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
      List<LedgerEntry> entries =
          ledger.entries(account, null, 10).items().stream()
              .filter(e -> e.kind() == EntryKind.CHARGE)
              .toList();
      assertThat(entries).hasSize(2);
      LedgerEntry own =
          entries.stream().filter(e -> e.eventId().startsWith("dup:")).findFirst().orElseThrow();
      assertThat(own.requestId()).isEqualTo("req-mine");
      assertThat(own.usage().inputTokens()).isEqualTo(2000);
      assertThat(own.metadata())
          .contains("\"idempotency_key\":\"key-1\"")
          .contains("\"alias\":\"pro\"");
      assertThat(ledger.stats().rejectedTotal()).isZero();
    }
  }

  @Test
  void badInputIsRefusedAndNothingIsJournaled() throws Exception {
    try (JdbcCreditLedger ledger = open()) {
      assertThatThrownBy(
              () ->
                  ledger.recordIntent(
                      new ChargeRequest(account, "", "r", scene, "openai", "m", USAGE, true, "{}")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("eventId");
      assertThatThrownBy(
              () -> JdbcCreditLedger.builder().writeBehind(true).chargeBatchSize(1).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("chargeBatchSize");
    }
    assertThat(journalFiles()).isEmpty();
  }

  interface JournalWork {
    void write(ChargeJournal journal) throws Exception;
  }

  /** Writes a journal the way a process would, then abandons it without closing it (a crash). */
  void crashedJournal(String bootId, JournalWork work) throws Exception {
    Files.createDirectories(spool);
    long next = 1_000_000;
    ChargeJournal journal = new ChargeJournal(spool, bootId, next, 60_000, 0);
    work.write(journal);
    journal.halt();
  }
}

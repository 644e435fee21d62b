package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.Usage;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closing the ledger (the last step of a gateway's stop) while a charge is being taken: the charge
 * is written or spooled before the spool and the pool close, never dropped; a charge handed over
 * once the ledger is closed is refused, so its caller knows it was not taken.
 */
class PostgresLedgerCloseTest {

  static final Usage USAGE = AbstractCreditLedgerContractTest.EXAMPLE_USAGE;
  static final long CREDITS = AbstractCreditLedgerContractTest.EXAMPLE_CREDITS;

  private static PostgresSchema schema;

  @TempDir Path directory;

  String account;
  String scene;

  @BeforeAll
  static void createSchema() {
    schema = PostgresSchema.create("close");
  }

  @AfterAll
  static void dropSchema() {
    schema.close();
  }

  @BeforeEach
  void names() {
    account = "acct-" + UUID.randomUUID();
    scene = "scene-" + UUID.randomUUID();
  }

  JdbcCreditLedger open() {
    return open(1);
  }

  /**
   * A ledger that commits each charge before returning ({@code ledger.write-behind: false}): in a
   * group commit of up to {@code batch} charges, or on its caller's thread for 1.
   */
  JdbcCreditLedger open(int batch) {
    return JdbcCreditLedger.builder()
        .jdbcUrl(schema.url())
        .spoolDirectory(directory.resolve("spool"))
        .writeBehind(false)
        .chargeBatchSize(batch)
        .connectionTimeout(Duration.ofSeconds(1))
        .statementTimeout(Duration.ofSeconds(2))
        .replayInterval(Duration.ofMillis(100))
        .build();
  }

  ChargeRequest charge(String eventId) {
    return new ChargeRequest(
        account, eventId, "req-" + eventId, scene, "openai", "gpt-test", USAGE, false, "{}");
  }

  List<LedgerEntry> charges(JdbcCreditLedger ledger) {
    return ledger.entries(account, null, 100).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  @Test
  void aChargeInProgressWhenTheLedgerClosesIsSpooledNotDropped() throws Exception {
    closeUnderACharge(1);
  }

  @Test
  void aChargeWaitingForItsGroupCommitWhenTheLedgerClosesIsSpooledNotDropped() throws Exception {
    closeUnderACharge(LedgerOptions.DEFAULT_CHARGE_BATCH_SIZE);
  }

  /** The caller is in the database (batch 1) or waits for a committer that is, as it closes. */
  void closeUnderACharge(int batch) throws Exception {
    JdbcCreditLedger ledger = open(batch);
    ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
    ledger.grant(account, 1_000, "g1", "admin", "");
    ChargeResult result;
    try (Connection holder = DriverManager.getConnection(schema.url())) {
      // Another transaction holds the account's row: the charge waits for it, up to its timeout.
      holder.setAutoCommit(false);
      try (PreparedStatement s =
          holder.prepareStatement("SELECT id FROM accounts WHERE id = ? FOR UPDATE")) {
        s.setString(1, account);
        s.executeQuery().close();
      }
      CompletableFuture<ChargeResult> charging =
          CompletableFuture.supplyAsync(() -> ledger.charge(charge("in-progress")));
      Thread.sleep(300);
      assertThat(charging).as("the charge waits for the row").isNotDone();

      ledger.close();
      result = charging.get(10, TimeUnit.SECONDS);
      holder.rollback();
    }
    assertThat(result.status()).isEqualTo(ChargeResult.Status.SPOOLED);

    try (JdbcCreditLedger reopened = open()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> reopened.stats().spoolPending() == 0);
      assertThat(charges(reopened)).extracting(LedgerEntry::eventId).containsExactly("in-progress");
      assertThat(reopened.account(account).orElseThrow().balance()).isEqualTo(1_000 - CREDITS);
    }
  }

  @Test
  void aChargeHandedOverAfterTheLedgerClosedIsRefusedNamingItsEvent() {
    JdbcCreditLedger ledger = open();
    ledger.createPriceRule(AbstractCreditLedgerContractTest.exampleRule(scene));
    ledger.grant(account, 1_000, "g1", "admin", "");
    ledger.close();

    assertThatThrownBy(() -> ledger.charge(charge("too-late")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("the ledger is closed")
        .hasMessageContaining("too-late");
    try (JdbcCreditLedger reopened = open()) {
      assertThat(reopened.stats().spoolPending()).isZero();
      assertThat(charges(reopened)).isEmpty();
    }
  }
}

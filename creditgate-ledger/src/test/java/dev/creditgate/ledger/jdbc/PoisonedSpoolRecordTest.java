package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A spooled charge the database keeps refusing with an error that is neither "unavailable" nor a
 * refusal of the charge itself (here a trigger raising on its event id) is retried, then set aside
 * in the rejected file after {@link SpoolReplayer#MAX_REPLAY_ATTEMPTS} replays, and never holds up
 * the charges spooled behind it.
 */
class PoisonedSpoolRecordTest {

  private static SpoolRecord record(String eventId) {
    return new SpoolRecord(
        Instant.parse("2026-11-26T12:00:00Z"),
        new ChargeRequest(
            "acct-poison",
            eventId,
            "req-" + eventId,
            "chat",
            "openai",
            "gpt-test",
            new Usage(10, 5, 0, 0),
            false,
            "{}"),
        new dev.creditgate.pricing.Quote(1_000, 7, 0, false));
  }

  private static JdbcCreditLedger open(String url, Path spool) {
    return JdbcCreditLedger.builder()
        .jdbcUrl(url)
        .spoolDirectory(spool)
        .replayInterval(Duration.ofHours(1))
        .build();
  }

  @Test
  void aRecordThatKeepsFailingIsSetAsideAfterItsReplaysAndTheOthersAreApplied(@TempDir Path spool)
      throws Exception {
    try (PostgresSchema schema = PostgresSchema.create("poison")) {
      try (JdbcCreditLedger ledger = open(schema.url(), spool)) {
        ledger.openAccount("acct-poison");
        ledger.grant("acct-poison", 1_000, "grant-1", "test", "credits for the test");
      }
      String s = schema.name();
      PostgresSchema.execute(
          "CREATE FUNCTION "
              + s
              + ".poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
              + " IF NEW.event_id = 'poison' THEN RAISE EXCEPTION 'poisoned record'; END IF; RETURN NEW; END $$");
      PostgresSchema.execute(
          "CREATE TRIGGER poison BEFORE INSERT ON "
              + s
              + ".entries FOR EACH ROW EXECUTE FUNCTION "
              + s
              + ".poison()");
      ChargeSpool previous = new ChargeSpool(spool);
      previous.append(record("poison"));
      previous.append(record("good"));
      previous.close();

      try (JdbcCreditLedger ledger = open(schema.url(), spool)) {
        int calls = 0;
        while (ledger.stats().rejectedTotal() == 0
            && calls < SpoolReplayer.MAX_REPLAY_ATTEMPTS + 1) {
          int pending = ledger.replaySpool();
          calls++;
          Optional<LedgerEntry> good = ledger.entry("acct-poison", "good");
          assertThat(good)
              .as("the record behind the poisoned one is applied at the first pass")
              .isPresent();
          if (ledger.stats().rejectedTotal() == 0) {
            assertThat(pending).as("the poisoned record waits for its next replay").isEqualTo(1);
          }
        }
        // The ledger's own start-up replay may have made the first attempt.
        assertThat(calls)
            .isBetween(SpoolReplayer.MAX_REPLAY_ATTEMPTS - 1, SpoolReplayer.MAX_REPLAY_ATTEMPTS);
        assertThat(ledger.stats().rejectedTotal()).isEqualTo(1);
        assertThat(ledger.stats().spoolPending()).isZero();
        assertThat(ledger.entry("acct-poison", "poison")).isEmpty();
        assertThat(ledger.entry("acct-poison", "good").orElseThrow().amount()).isEqualTo(-7);
        assertThat(ledger.account("acct-poison").orElseThrow().balance()).isEqualTo(993);
      }
      String rejected = Files.readString(spool.resolve(ChargeSpool.REJECTED_FILE));
      assertThat(rejected)
          .contains("poison")
          .contains("replay failed 5 times")
          .doesNotContain("req-good");
    }
  }
}

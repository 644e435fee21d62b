package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal's files and its recovery rules, without a database. */
class ChargeJournalTest {

  @TempDir Path directory;

  static SpoolRecord record(String eventId) {
    return new SpoolRecord(
        Instant.now(),
        new ChargeRequest(
            "acct",
            eventId,
            "req-" + eventId,
            "chat",
            "openai",
            "gpt-test",
            new Usage(100, 10, 0, 0),
            true,
            "{}"),
        null);
  }

  List<String> unfinishedAfterReboot() throws Exception {
    return JournalRecovery.recover(directory, "another-boot").unfinishedIntents().stream()
        .map(r -> r.request().eventId())
        .toList();
  }

  @Test
  void aVoidInALaterFileOutlivesItsIntentsFile() throws Exception {
    ChargeJournal journal = new ChargeJournal(directory, "this-boot", 1, 50, 0);
    try {
      ChargeJournal.Ticket intent = journal.intent(record("k"));
      // Another call's intent in the same file keeps that file alive.
      ChargeJournal.Ticket other = journal.intent(record("long-call"));
      Path first = JournalSegment.files(directory).get(0);
      // The file rolls over (a third file is then created ahead).
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> JournalSegment.files(directory).size() >= 3);
      // The call ends uncharged: its void goes to a later file.
      journal.doneWhenGone(journal.voided("acct", "k"), intent);
      journal.done(intent);
      Path second = JournalSegment.files(directory).get(1);
      // The void's file rolls over too; with all its records done but the void, it must stay.
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> JournalSegment.files(directory).size() >= 4);
      Thread.sleep(200);
      assertThat(second).exists();
      assertThat(unfinishedAfterReboot())
          .as("the void is still on disk with its intent")
          .doesNotContain("k");
      journal.done(other);
      // Once the intent's file is gone, nothing holds the void's.
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> !Files.exists(first) && !Files.exists(second));
      assertThat(unfinishedAfterReboot()).isEmpty();
    } finally {
      journal.close();
    }
  }

  @Test
  void aRetryUnderTheSameKeyAfterAVoidedAttemptIsUnfinishedOnItsOwn() throws Exception {
    ChargeJournal journal = new ChargeJournal(directory, "this-boot", 1, 60_000, 0);
    journal.intent(record("k"));
    journal.voided("acct", "k");
    ChargeJournal.Ticket retry = journal.intent(record("k"));
    assertThat(journal.awaitDurable(retry, Duration.ofSeconds(5).toNanos())).isTrue();
    journal.halt();
    // Power lost before the retry's charge record reached the disk: the retry is charged its
    // estimate.
    assertThat(unfinishedAfterReboot()).containsExactly("k");
    assertThat(JournalRecovery.recover(directory, "this-boot").unfinishedIntents())
        .as("same boot: a call the process did not finish is charged its estimate too")
        .extracting(r -> r.request().eventId())
        .containsExactly("k");
  }

  @Test
  void recoveryStopsAtTheZeroFilledTailAndSkipsATornLine() throws Exception {
    ChargeJournal journal = new ChargeJournal(directory, "this-boot", 1, 60_000, 0);
    journal.charge(record("a"), "a");
    journal.halt();
    Path file = JournalSegment.files(directory).get(0);
    assertThat(Files.size(file)).isEqualTo(JournalSegment.PREALLOCATED_BYTES);
    // A torn record (no checksum, no newline) after the last good one, as a crash mid-write leaves.
    byte[] content = Files.readAllBytes(file);
    int end = 0;
    while (content[end] != 0) {
      end++;
    }
    byte[] torn = "\nC\ta\t".getBytes();
    System.arraycopy(torn, 0, content, end, torn.length);
    Files.write(file, content);
    JournalRecovery.Recovered recovered = JournalRecovery.recover(directory, "this-boot");
    assertThat(recovered.charges()).extracting(r -> r.request().eventId()).containsExactly("a");
  }
}

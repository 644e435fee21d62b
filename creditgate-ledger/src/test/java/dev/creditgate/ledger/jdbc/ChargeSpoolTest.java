package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChargeSpoolTest {

  @TempDir Path directory;

  static SpoolRecord record(String eventId, Quote quote) {
    ChargeRequest request =
        new ChargeRequest(
            "acct-1",
            eventId,
            "req\twith tab",
            "scène\nnewline",
            "openai",
            "gpt-4o",
            new Usage(1, 2, 3, 4),
            true,
            "{\"a\":\"b c%20\"}");
    return new SpoolRecord(Instant.ofEpochMilli(1_700_000_000_123L), request, quote);
  }

  /** The file the spool appended its last record to. */
  Path lastSegment() throws Exception {
    List<Path> files = ChargeSpool.segmentFiles(directory);
    return files.get(files.size() - 1);
  }

  /** Replays every pending record as written, as the replayer does, except those {@code keep}s. */
  static void replayAllBut(ChargeSpool spool, java.util.function.Predicate<SpoolRecord> keep) {
    for (SpoolSegment segment : spool.forReplay()) {
      List<SpoolRecord> records = spool.read(segment);
      java.util.BitSet done = new java.util.BitSet();
      for (int i = 0; i < records.size(); i++) {
        if (!keep.test(records.get(i))) {
          done.set(i);
        }
      }
      spool.done(segment, records, done);
    }
  }

  @Test
  void recordsSurviveReopeningWithEveryFieldIntact() {
    SpoolRecord priced = record("e1", new Quote(10_720, 2, 7, false));
    SpoolRecord unpriced = record("e2", null);
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      spool.append(priced);
      spool.append(unpriced);
      assertThat(spool.size()).isEqualTo(2);
      assertThat(spool.oldest()).isEqualTo(priced.spooledAt());
    }
    try (ChargeSpool reopened = new ChargeSpool(directory)) {
      assertThat(reopened.pending()).containsExactly(priced, unpriced);
    }
  }

  @Test
  void theLeaseHolderSurvivesAndLinesWithoutOneAreStillRead() {
    SpoolRecord plain = record("e1", new Quote(10_720, 2, 7, false));
    SpoolRecord leased =
        new SpoolRecord(plain.spooledAt(), plain.request(), plain.quote(), "42@host/0a1b2c3d");
    assertThat(SpoolRecord.decode(leased.encode())).isEqualTo(leased);
    // A line of the earlier format: the same fields without the lease holder.
    String current = plain.encode();
    String[] fields = current.split("\t", -1);
    StringBuilder older = new StringBuilder("c1\t");
    for (int i = 1; i < fields.length - 2; i++) {
      older.append(fields[i]).append('\t');
    }
    String line = older + SpoolRecord.crc(older.toString());
    assertThat(SpoolRecord.decode(line)).isEqualTo(plain);
    assertThatThrownBy(() -> SpoolRecord.decode(line.replaceFirst("^c1", "c9")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aLineThatIsNotUtf8IsSetAsideAndCountedNotFatal() throws Exception {
    SpoolRecord first = record("e1", new Quote(10_720, 2, 7, false));
    SpoolRecord second = record("e2", new Quote(10_720, 2, 7, false));
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      spool.append(first);
    }
    Path file = lastSegment();
    Files.write(
        file,
        new byte[] {'c', '1', '\t', (byte) 0xC3, (byte) 0x28, '\n'},
        StandardOpenOption.APPEND);
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      assertThat(spool.pending()).containsExactly(first);
      assertThat(spool.unreadable()).isEqualTo(1);
      spool.append(second);
    }
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      assertThat(spool.pending()).containsExactly(first, second);
      assertThat(spool.unreadable()).isZero();
    }
  }

  @Test
  void aFullSpoolRefusesNewChargesButKeepsWhatItRecovers() {
    try (ChargeSpool spool = new ChargeSpool(directory, 2)) {
      spool.append(record("e1", Quote.UNPRICED));
      assertThat(spool.full()).isFalse();
      spool.append(record("e2", Quote.UNPRICED));
      assertThat(spool.full()).isTrue();
      assertThatThrownBy(() -> spool.append(record("e3", Quote.UNPRICED)))
          .isInstanceOf(ChargeSpool.SpoolFullException.class)
          .hasMessageContaining("2 records");
      assertThat(spool.contains("acct-1", "e3")).isFalse();
      // Records recovered from a journal at start are taken whatever the capacity.
      spool.appendAll(List.of(record("e4", Quote.UNPRICED)));
      assertThat(spool.size()).isEqualTo(3);
      replayAllBut(spool, r -> false);
      assertThat(spool.full()).isFalse();
      assertThat(spool.contains("acct-1", "e1")).isFalse();
    }
  }

  @Test
  void containsFindsEachPendingKeyUntilItIsRemoved() {
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      for (int i = 0; i < 1000; i++) {
        spool.appendAll(List.of(record("e" + i, Quote.UNPRICED)));
      }
      assertThat(spool.contains("acct-1", "e999")).isTrue();
      assertThat(spool.contains("acct-2", "e999")).isFalse();
      replayAllBut(spool, r -> Integer.parseInt(r.request().eventId().substring(1)) >= 500);
      assertThat(spool.contains("acct-1", "e0")).isFalse();
      assertThat(spool.contains("acct-1", "e500")).isTrue();
    }
  }

  @Test
  void aTornOrDamagedLineIsSkippedAndKeptForAnOperator() throws Exception {
    SpoolRecord first = record("e1", Quote.UNPRICED);
    SpoolRecord second = record("e2", Quote.UNPRICED);
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      spool.append(first);
      spool.append(second);
    }
    Path file = lastSegment();
    List<String> lines = Files.readAllLines(file);
    String damaged = lines.get(0).replace("acct-1", "acct-2");
    Files.write(file, List.of(damaged, lines.get(1)));
    // A crash in the middle of an append leaves a line without its end.
    Files.writeString(file, lines.get(0).substring(0, 30), StandardOpenOption.APPEND);

    try (ChargeSpool reopened = new ChargeSpool(directory)) {
      assertThat(reopened.pending()).containsExactly(second);
      reopened.append(first);
    }
    try (ChargeSpool again = new ChargeSpool(directory)) {
      assertThat(again.pending()).containsExactly(second, first);
    }
    assertThat(
            Files.readString(directory.resolve(ChargeSpool.REJECTED_FILE), StandardCharsets.UTF_8))
        .contains("unreadable")
        .contains("acct-2");
  }

  @Test
  void aReplayLeavingPartOfASegmentRewritesItWithTheRest() throws Exception {
    SpoolRecord first = record("e1", Quote.UNPRICED);
    SpoolRecord second = record("e2", Quote.UNPRICED);
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      spool.append(first);
      spool.append(second);
      long before = spool.bytes();
      replayAllBut(spool, r -> r.equals(second));
      assertThat(spool.pending()).containsExactly(second);
      assertThat(spool.bytes())
          .isLessThan(before)
          .isEqualTo(Files.size(ChargeSpool.segmentFiles(directory).get(0)));
      replayAllBut(spool, r -> false);
      assertThat(spool.isEmpty()).isTrue();
      assertThat(spool.bytes()).isZero();
    }
    try (ChargeSpool reopened = new ChargeSpool(directory)) {
      assertThat(reopened.isEmpty()).isTrue();
    }
    assertThat(ChargeSpool.segmentFiles(directory))
        .as("no file is left once all is replayed")
        .isEmpty();
  }

  @Test
  void segmentsRollAtTheirSizeAndOnlySealedOnesAreReplayed() throws Exception {
    try (ChargeSpool spool = new ChargeSpool(directory, 1_000, 3)) {
      for (int i = 0; i < 7; i++) {
        spool.append(
            new SpoolRecord(
                Instant.ofEpochMilli(i),
                record("e" + i, new Quote(1_000, 1, 7, false)).request(),
                new Quote(1_000, 1, 7, false)));
      }
      assertThat(ChargeSpool.segmentFiles(directory)).hasSize(3);
      assertThat(spool.size()).isEqualTo(7);
      assertThat(spool.debits("acct-1")).isEqualTo(7);
      assertThat(spool.oldest()).isEqualTo(Instant.ofEpochMilli(0));
      for (int i = 0; i < 7; i++) {
        assertThat(spool.contains("acct-1", "e" + i)).as("e%d", i).isTrue();
      }
      List<SpoolSegment> sealed = spool.forReplay();
      assertThat(sealed).hasSize(2);
      // The first segment replayed whole, the second in part: the database failed meanwhile.
      List<SpoolRecord> firstRecords = spool.read(sealed.get(0));
      java.util.BitSet all = new java.util.BitSet();
      all.set(0, firstRecords.size());
      spool.done(sealed.get(0), firstRecords, all);
      List<SpoolRecord> secondRecords = spool.read(sealed.get(1));
      java.util.BitSet one = new java.util.BitSet();
      one.set(0);
      spool.done(sealed.get(1), secondRecords, one);
      assertThat(spool.size()).isEqualTo(3);
      assertThat(spool.debits("acct-1")).isEqualTo(3);
      assertThat(spool.oldest()).isEqualTo(Instant.ofEpochMilli(4));
      assertThat(spool.contains("acct-1", "e0")).isFalse();
      assertThat(spool.contains("acct-1", "e3")).isFalse();
      assertThat(spool.contains("acct-1", "e4")).isTrue();
      assertThat(spool.contains("acct-1", "e6")).isTrue();
      // Sealed records remain: the open segment is not sealed yet.
      assertThat(spool.forReplay()).hasSize(1);
      replayAllBut(spool, r -> false);
      assertThat(spool.size()).as("e6, in the open segment").isOne();
      // Caught up with the sealed ones: the open segment is sealed for the replay, appends go to a
      // new one.
      replayAllBut(spool, r -> false);
      assertThat(spool.size()).isZero();
      spool.append(record("e7", Quote.UNPRICED));
      assertThat(spool.contains("acct-1", "e7")).isTrue();
      assertThat(spool.contains("acct-1", "e6")).isFalse();
    }
    try (ChargeSpool reopened = new ChargeSpool(directory, 1_000, 3)) {
      assertThat(reopened.pending()).extracting(r -> r.request().eventId()).containsExactly("e7");
    }
  }

  @Test
  void aSpoolOfAnEarlierVersionIsReadAsItsOldestSegment() throws Exception {
    SpoolRecord older = record("e1", new Quote(10_720, 2, 7, false));
    Files.createDirectories(directory);
    Files.writeString(directory.resolve(ChargeSpool.LEGACY_FILE), older.encode() + "\n");
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      assertThat(spool.pending()).containsExactly(older);
      assertThat(spool.contains("acct-1", "e1")).isTrue();
      assertThat(spool.debits("acct-1")).isEqualTo(2);
    }
    assertThat(directory.resolve(ChargeSpool.LEGACY_FILE)).doesNotExist();
  }

  @Test
  void oneSpoolDirectoryHasOneOwner() {
    try (ChargeSpool spool = new ChargeSpool(directory)) {
      assertThatThrownBy(() -> new ChargeSpool(directory))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining(directory.toString());
    }
    new ChargeSpool(directory).close();
  }
}

package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.LedgerUnavailableException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an earlier process left in the write-behind journal, and moving it to the spool at start:
 * its charges, and the estimates of the calls it admitted and never ended (killed during the call,
 * or a charge record the page cache lost to a reboot).
 */
final class JournalRecovery {

  private static final Logger LOG = LoggerFactory.getLogger(JournalRecovery.class);

  private JournalRecovery() {}

  /**
   * The first field of a recovered estimate's metadata: the charge of a call that an earlier
   * process admitted and never finished, at its estimate.
   */
  static final String RECOVERED_ESTIMATE_FIELD = "\"recovered_estimate\":true";

  /**
   * The charge of an unfinished call: its intent's estimate, marked estimated, its metadata led by
   * {@link #RECOVERED_ESTIMATE_FIELD}.
   */
  static ChargeRequest recoveredEstimate(ChargeRequest intent) {
    String meta = intent.metadata().strip();
    String inner = meta.length() >= 2 ? meta.substring(1, meta.length() - 1).strip() : "";
    return new ChargeRequest(
        intent.accountId(),
        intent.eventId(),
        intent.requestId(),
        intent.scene(),
        intent.provider(),
        intent.model(),
        intent.usage(),
        true,
        "{" + RECOVERED_ESTIMATE_FIELD + (inner.isEmpty() ? "" : "," + inner) + "}");
  }

  /**
   * Whether {@code request} is a recovered estimate. Its event id meeting a charge stored with
   * another payload means the call was charged after all (its own charge reached the database, or
   * it was charged under an id of its own): the estimate is then dropped, never charged beside it.
   */
  static boolean isRecoveredEstimate(ChargeRequest request) {
    return request.metadata().startsWith("{" + RECOVERED_ESTIMATE_FIELD);
  }

  /** What an earlier process left in the journal. */
  record Recovered(
      List<SpoolRecord> charges, List<SpoolRecord> unfinishedIntents, List<Path> files) {}

  /**
   * Moves what an earlier process left in the journal to the spool (one fsync), deletes the old
   * files and starts a new journal. Charges the database already has ({@code stored}, asked while
   * the database answers) are left out; the spool replays the rest.
   */
  static ChargeJournal reopen(
      Path directory, ChargeSpool spool, BiPredicate<String, String> stored) {
    String bootId = ChargeJournal.bootId();
    Recovered recovered;
    try {
      recovered = recover(directory, bootId);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the charge journal in " + directory, e);
    }
    List<SpoolRecord> candidates = new ArrayList<>(recovered.charges());
    for (SpoolRecord estimate : recovered.unfinishedIntents()) {
      candidates.add(
          new SpoolRecord(
              estimate.spooledAt(),
              recoveredEstimate(estimate.request()),
              estimate.quote(),
              estimate.leaseHolder()));
    }
    List<SpoolRecord> toSpool = new ArrayList<>();
    int known = 0;
    boolean databaseReadable = true;
    for (SpoolRecord record : candidates) {
      if (databaseReadable) {
        try {
          if (stored.test(record.request().accountId(), record.request().eventId())) {
            known++;
            continue;
          }
        } catch (LedgerUnavailableException e) {
          databaseReadable = false;
        }
      }
      toSpool.add(record);
    }
    spool.appendAll(toSpool);
    long next = 0;
    for (Path file : recovered.files()) {
      next = Math.max(next, JournalSegment.id(file) + 1);
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete the replayed charge journal " + file, e);
      }
    }
    if (!recovered.files().isEmpty()) {
      LOG.info(
          "charge journal recovered: {} charges and {} estimated calls read, {} already in the ledger,"
              + " {} to the spool",
          recovered.charges().size(),
          recovered.unfinishedIntents().size(),
          known,
          toSpool.size());
    }
    return new ChargeJournal(
        directory,
        bootId,
        next,
        LedgerOptions.JOURNAL_ROLL_MILLIS,
        LedgerOptions.JOURNAL_SYNC_INTERVAL_MICROS);
  }

  /**
   * Reads every journal file in {@code directory}. Charges are returned for replay (idempotent by
   * event id); an intent with neither a charge nor a void is returned as unfinished: a call the
   * process admitted and never ended, because it was killed (a crash, an OOM kill, a container
   * restart) or, after a reboot (a boot id other than {@code currentBootId}), because the page
   * cache lost its charge record. Either way the upstream may have served it, so it is charged its
   * estimate.
   */
  static Recovered recover(Path directory, String currentBootId) throws IOException {
    List<Path> files = JournalSegment.files(directory);
    List<SpoolRecord> charges = new ArrayList<>();
    Map<String, SpoolRecord> intents = new HashMap<>();
    Map<String, Boolean> intentAfterReboot = new HashMap<>();
    Set<String> finished = new HashSet<>();
    for (Path file : files) {
      byte[] content = Files.readAllBytes(file);
      int end = 0;
      while (end < content.length && content[end] != 0) {
        end++;
      }
      // The file was zero-filled ahead of its records: the first zero byte ends them.
      List<String> lines =
          List.of(new String(content, 0, end, StandardCharsets.UTF_8).split("\n", -1));
      boolean rebooted = true;
      int number = 0;
      for (String line : lines) {
        number++;
        if (line.isEmpty()) {
          continue;
        }
        String payload = JournalFormat.unframe(line);
        if (payload == null) {
          // A torn tail: a record whose write never completed, so nothing was acknowledged on it.
          LOG.warn("charge journal {} line {} skipped: fails its checksum", file, number);
          continue;
        }
        String[] parts = payload.split("\t", 3);
        try {
          switch (parts[0]) {
            case JournalFormat.HEADER ->
                rebooted = currentBootId.isEmpty() || !parts[1].equals(currentBootId);
            case JournalFormat.INTENT -> {
              SpoolRecord estimate = SpoolRecord.decode(payload.substring(2));
              String key =
                  LedgerTables.key(estimate.request().accountId(), estimate.request().eventId());
              intents.put(key, estimate);
              intentAfterReboot.put(key, rebooted);
              // A retry under the same key after an earlier attempt ended: only what follows
              // counts.
              finished.remove(key);
            }
            case JournalFormat.CHARGE -> {
              SpoolRecord charge = SpoolRecord.decode(parts[2]);
              charges.add(charge);
              finished.add(
                  LedgerTables.key(charge.request().accountId(), JournalFormat.decode(parts[1])));
            }
            case JournalFormat.VOID ->
                finished.add(
                    LedgerTables.key(
                        JournalFormat.decode(parts[1]), JournalFormat.decode(parts[2])));
            default ->
                LOG.warn(
                    "charge journal {} line {} skipped: unknown record '{}'",
                    file,
                    number,
                    parts[0]);
          }
        } catch (RuntimeException e) {
          LOG.warn("charge journal {} line {} skipped: {}", file, number, e.getMessage());
        }
      }
    }
    List<SpoolRecord> unfinished = new ArrayList<>();
    for (Map.Entry<String, SpoolRecord> intent : intents.entrySet()) {
      if (finished.contains(intent.getKey())) {
        continue;
      }
      unfinished.add(intent.getValue());
      LOG.warn(
          "unfinished call in the journal ({}), charging its estimate: account_id={} event_id={}",
          intentAfterReboot.get(intent.getKey())
              ? "written before a reboot"
              : "the process stopped during the call",
          intent.getValue().request().accountId(),
          intent.getValue().request().eventId());
    }
    return new Recovered(charges, unfinished, files);
  }
}

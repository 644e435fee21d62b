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
 * its charges, and after a reboot the estimates of calls whose charge the page cache may have lost.
 */
final class JournalRecovery {

  private static final Logger LOG = LoggerFactory.getLogger(JournalRecovery.class);

  private JournalRecovery() {}

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
      ChargeRequest r = estimate.request();
      LOG.warn(
          "journal written before a reboot holds a call without its charge; charging its estimate,"
              + " account_id={} event_id={} usage={}",
          r.accountId(),
          r.eventId(),
          r.usage());
      candidates.add(
          new SpoolRecord(
              estimate.spooledAt(),
              new ChargeRequest(
                  r.accountId(),
                  r.eventId(),
                  r.requestId(),
                  r.scene(),
                  r.provider(),
                  r.model(),
                  r.usage(),
                  true,
                  r.metadata()),
              estimate.quote()));
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
   * event id); an intent with neither a charge nor a void is returned as unfinished only when its
   * file was written before a reboot (another boot id), since then the page cache may have lost its
   * charge. Unfinished intents of the same boot are calls the process did not finish: their answer
   * never completed, and they are not charged.
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
      if (intentAfterReboot.get(intent.getKey())) {
        unfinished.add(intent.getValue());
      } else {
        LOG.info(
            "call in progress when the process stopped, not charged: account_id={} event_id={}",
            intent.getValue().request().accountId(),
            intent.getValue().request().eventId());
      }
    }
    return new Recovered(charges, unfinished, files);
  }
}

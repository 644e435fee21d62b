package dev.creditgate.ledger.jdbc;

import dev.creditgate.internal.Saturating;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable local spool of charges the database could not take: an append-only file, one line per
 * charge, fsync'd before {@link #append} returns. Replayed records are dropped by rewriting the
 * file (write a temporary file, fsync, rename over the old one), so a crash at any point leaves
 * either the old or the new file, never a half-written one. One process owns a spool directory at a
 * time (a file lock enforces it).
 */
final class ChargeSpool implements AutoCloseable {

  static final String SPOOL_FILE = "charges.spool";
  static final String REJECTED_FILE = "charges.rejected";
  static final String LOCK_FILE = "spool.lock";

  /** How many pending records a spool takes by default (about 250 MB of heap at most). */
  static final int DEFAULT_CAPACITY = 500_000;

  private static final Logger LOG = LoggerFactory.getLogger(ChargeSpool.class);

  private final Path directory;
  private final Path spoolFile;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final List<SpoolRecord> pending = new ArrayList<>();

  /** How many pending records there are under each account and event id (the key). */
  private final java.util.HashMap<String, Integer> keys = new java.util.HashMap<>();

  private final int capacity;
  private long unreadable;

  /** Credits of the pending records, by account (records spooled unpriced count 0). */
  private final ConcurrentHashMap<String, Long> debits = new ConcurrentHashMap<>();

  private FileChannel channel;
  private long bytes;

  /** A spool that takes up to {@value #DEFAULT_CAPACITY} new records. */
  ChargeSpool(Path directory) {
    this(directory, DEFAULT_CAPACITY);
  }

  /**
   * @param capacity how many pending records {@link #append} takes; beyond it a charge is refused
   *     (it stays in the journal) and the ledger stops accepting calls ({@link #full}). Records
   *     recovered at start are taken whatever their number.
   */
  ChargeSpool(Path directory, int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("spool capacity must be at least 1, but was " + capacity);
    }
    this.capacity = capacity;
    this.directory = directory;
    this.spoolFile = directory.resolve(SPOOL_FILE);
    try {
      Files.createDirectories(directory);
      lockChannel =
          FileChannel.open(
              directory.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock acquired;
      try {
        acquired = lockChannel.tryLock();
      } catch (OverlappingFileLockException e) {
        acquired = null;
      }
      if (acquired == null) {
        lockChannel.close();
        throw new IllegalStateException(
            "spoolDirectory " + directory + " is in use by another ledger");
      }
      lock = acquired;
      load();
      rewrite();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the charge spool in " + directory, e);
    }
  }

  /**
   * Reads the spool line by line. A line that is not valid UTF-8 or not a record (a torn last line
   * is a charge whose append never completed, so it was never acknowledged) is set aside in the
   * rejected file and counted, never fatal.
   */
  private void load() throws IOException {
    if (!Files.exists(spoolFile)) {
      return;
    }
    int lineNumber = 0;
    try (java.io.BufferedInputStream in =
        new java.io.BufferedInputStream(Files.newInputStream(spoolFile))) {
      java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream(512);
      int b;
      do {
        b = in.read();
        if (b != '\n' && b != -1) {
          line.write(b);
          continue;
        }
        lineNumber++;
        if (line.size() > 0) {
          loadLine(line.toByteArray(), lineNumber);
        }
        line.reset();
      } while (b != -1);
    }
  }

  private void loadLine(byte[] bytes, int lineNumber) throws IOException {
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
    } catch (java.nio.charset.CharacterCodingException e) {
      setAside(new String(bytes, StandardCharsets.UTF_8), lineNumber, "not valid UTF-8");
      return;
    }
    try {
      SpoolRecord record = SpoolRecord.decode(text);
      pending.add(record);
      count(record, 1);
    } catch (RuntimeException e) {
      setAside(text, lineNumber, e.getMessage());
    }
  }

  private void setAside(String line, int lineNumber, String why) throws IOException {
    unreadable++;
    LOG.warn("charge spool {} line {} set aside: {}", spoolFile, lineNumber, why);
    appendTo(directory.resolve(REJECTED_FILE), "unreadable\t" + line.replace('\n', ' '));
  }

  /** Lines of the spool that could not be read at start and were set aside. */
  synchronized long unreadable() {
    return unreadable;
  }

  /**
   * Whether the spool is full for new calls: it holds its capacity less a hundredth, kept for the
   * charges of calls admitted before it filled. The ledger then refuses new metered calls.
   */
  synchronized boolean full() {
    return pending.size() >= capacity - capacity / 100;
  }

  /**
   * Appends one record with an fsync.
   *
   * @throws SpoolFullException when the spool already holds its capacity of records
   */
  synchronized void append(SpoolRecord record) {
    if (pending.size() >= capacity) {
      throw new SpoolFullException(capacity);
    }
    appendAll(List.of(record));
  }

  /** The spool holds as many records as it takes. */
  static final class SpoolFullException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    SpoolFullException(int capacity) {
      super("the charge spool is full (" + capacity + " records)");
    }
  }

  /**
   * Appends records with one fsync (nothing when the list is empty); all or none are acknowledged.
   */
  synchronized void appendAll(List<SpoolRecord> records) {
    if (records.isEmpty()) {
      return;
    }
    StringBuilder text = new StringBuilder();
    for (SpoolRecord record : records) {
      text.append(record.encode()).append('\n');
    }
    byte[] lines = text.toString().getBytes(StandardCharsets.UTF_8);
    try {
      ByteBuffer buffer = ByteBuffer.wrap(lines);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      channel.force(false);
    } catch (IOException e) {
      // Cut off a partial line, so that the next acknowledged record is not glued to a torn one.
      try {
        channel.truncate(bytes);
        channel.position(bytes);
      } catch (IOException ignored) {
        // The torn tail is then rejected as unreadable at the next start; nothing acknowledged is
        // lost with it.
      }
      throw new UncheckedIOException("cannot write the charge spool " + spoolFile, e);
    }
    bytes += lines.length;
    pending.addAll(records);
    records.forEach(record -> count(record, 1));
  }

  private void count(SpoolRecord record, int sign) {
    keys.merge(
        key(record),
        sign,
        (a, b) -> {
          int n = a + b;
          return n == 0 ? null : n;
        });
    long credits = record.quote() == null ? 0 : Math.max(0, record.quote().credits());
    if (credits > 0) {
      debits.merge(
          record.request().accountId(),
          sign * credits,
          (a, b) -> {
            long sum = Saturating.add(a, b);
            return sum == 0 ? null : sum;
          });
    }
  }

  /**
   * The credits of the account's pending records: charges accepted and not yet in the database.
   * Without locking; a record's credits count from before {@link #append} returns until after its
   * {@link #remove}.
   */
  long debits(String accountId) {
    Long sum = debits.get(accountId);
    return sum == null ? 0 : sum;
  }

  synchronized List<SpoolRecord> pending() {
    return List.copyOf(pending);
  }

  /** Whether a pending record charges this account under this event id. */
  synchronized boolean contains(String accountId, String eventId) {
    return keys.containsKey(LedgerTables.key(accountId, eventId));
  }

  private static String key(SpoolRecord record) {
    return LedgerTables.key(record.request().accountId(), record.request().eventId());
  }

  synchronized boolean isEmpty() {
    return pending.isEmpty();
  }

  synchronized int size() {
    return pending.size();
  }

  synchronized long bytes() {
    return bytes;
  }

  /** When the oldest pending record was spooled, or null when none is pending. */
  synchronized Instant oldest() {
    return pending.isEmpty() ? null : pending.get(0).spooledAt();
  }

  /** Drops records that were written to the database (or rejected), by identity. */
  synchronized void remove(Collection<SpoolRecord> done) {
    Set<SpoolRecord> gone = Collections.newSetFromMap(new IdentityHashMap<>());
    gone.addAll(done);
    pending.removeIf(
        record -> {
          if (gone.contains(record)) {
            count(record, -1);
            return true;
          }
          return false;
        });
    try {
      rewrite();
    } catch (IOException e) {
      // The file still holds the records: they are replayed again, which is idempotent.
      LOG.warn("charge spool {} could not be compacted: {}", spoolFile, e.toString());
    }
  }

  /** Keeps a record the database refused in the rejected file, with the reason, for an operator. */
  synchronized void reject(SpoolRecord record, String why) {
    try {
      appendTo(
          directory.resolve(REJECTED_FILE),
          why.replace('\n', ' ').replace('\t', ' ') + "\t" + record.encode());
    } catch (IOException e) {
      LOG.error(
          "charge spool rejected-file write failed for event {}: {}",
          record.request().eventId(),
          e.toString());
    }
  }

  private void rewrite() throws IOException {
    Path temporary = directory.resolve(SPOOL_FILE + ".tmp");
    StringBuilder text = new StringBuilder();
    for (SpoolRecord record : pending) {
      text.append(record.encode()).append('\n');
    }
    byte[] content = text.toString().getBytes(StandardCharsets.UTF_8);
    try (FileChannel out =
        FileChannel.open(
            temporary,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buffer = ByteBuffer.wrap(content);
      while (buffer.hasRemaining()) {
        out.write(buffer);
      }
      out.force(true);
    }
    if (channel != null) {
      channel.close();
    }
    try {
      Files.move(
          temporary,
          spoolFile,
          StandardCopyOption.REPLACE_EXISTING,
          StandardCopyOption.ATOMIC_MOVE);
      syncDirectory();
      bytes = content.length;
    } finally {
      channel =
          FileChannel.open(
              spoolFile,
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.APPEND);
    }
  }

  private void syncDirectory() {
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // Not every platform can fsync a directory; the rename itself is still atomic.
      LOG.debug("cannot fsync directory {}: {}", directory, e.toString());
    }
  }

  private static void appendTo(Path file, String line) throws IOException {
    try (FileChannel out =
        FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      ByteBuffer buffer = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
      while (buffer.hasRemaining()) {
        out.write(buffer);
      }
      out.force(false);
    }
  }

  @Override
  public synchronized void close() {
    try {
      if (channel != null) {
        channel.close();
      }
      lock.release();
      lockChannel.close();
    } catch (IOException e) {
      LOG.warn("charge spool {} close failed: {}", spoolFile, e.toString());
    }
  }
}

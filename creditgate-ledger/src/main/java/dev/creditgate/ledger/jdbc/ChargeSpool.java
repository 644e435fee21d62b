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
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable local spool of charges the database could not take: append-only segment files, one
 * line per charge, fsync'd before {@link #append} returns. The records stay on disk; in memory the
 * spool keeps 8 bytes per record (a hash of its key, for {@link #contains}), each account's pending
 * credits, and each segment's size, so its capacity is bounded by disk, not by the heap.
 *
 * <p>The newest segment takes appends; once it holds {@link #SEGMENT_RECORDS} records, or when the
 * replay has caught up with the older ones, it is sealed and a new one opened. The replay reads a
 * sealed segment at a time ({@link #forReplay}, {@link #read}) and hands back what it wrote ({@link
 * #done}): a segment whose records all left is deleted, else rewritten with the rest (a temporary
 * file, fsync, rename over the old one), so a crash at any point leaves either the old or the new
 * file, never a half-written one, and no rewrite is larger than a segment. One process owns a spool
 * directory at a time (a file lock enforces it).
 */
final class ChargeSpool implements AutoCloseable {

  static final String REJECTED_FILE = "charges.rejected";
  static final String LOCK_FILE = "spool.lock";

  /** The single file of earlier versions of the spool, read at start as its oldest segment. */
  static final String LEGACY_FILE = "charges.spool";

  /** How many pending records a spool takes by default: over an hour of charges at 1,000/s. */
  static final int DEFAULT_CAPACITY = 4_000_000;

  /** Records a segment takes before it is sealed and a new one opened. */
  static final int SEGMENT_RECORDS = 16_384;

  private static final Logger LOG = LoggerFactory.getLogger(ChargeSpool.class);

  private final Path directory;
  private final SpoolFiles files;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final int capacity;
  private final int segmentRecords;

  /** Oldest first; the last one is open for appends. Guarded by this. */
  private final List<SpoolSegment> segments = new ArrayList<>();

  private long pending;

  /** Credits of the pending records, by account (records spooled unpriced count 0). */
  private final ConcurrentHashMap<String, Long> debits = new ConcurrentHashMap<>();

  private FileChannel channel;

  /** A spool that takes up to {@value #DEFAULT_CAPACITY} new records. */
  ChargeSpool(Path directory) {
    this(directory, DEFAULT_CAPACITY);
  }

  ChargeSpool(Path directory, int capacity) {
    this(directory, capacity, SEGMENT_RECORDS);
  }

  /**
   * @param capacity how many pending records {@link #append} takes; beyond it a charge is refused
   *     (it stays in the journal) and the ledger stops accepting calls ({@link #full}). Records
   *     recovered at start are taken whatever their number.
   * @param segmentRecords how many records a segment takes before a new one is opened
   */
  ChargeSpool(Path directory, int capacity, int segmentRecords) {
    if (capacity < 1) {
      throw new IllegalArgumentException("spool capacity must be at least 1, but was " + capacity);
    }
    if (segmentRecords < 1) {
      throw new IllegalArgumentException(
          "segmentRecords must be at least 1, but was " + segmentRecords);
    }
    this.capacity = capacity;
    this.segmentRecords = segmentRecords;
    this.directory = directory;
    this.files = new SpoolFiles(directory);
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
      try {
        load();
      } catch (IOException | RuntimeException e) {
        lock.release();
        lockChannel.close();
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the charge spool in " + directory, e);
    }
  }

  /**
   * Reads every segment (a spool file of an earlier version first split into segments), sealed,
   * then opens a new one for appends. Files are read line by line, never whole. A line that is not
   * valid UTF-8 or not a record (a torn last line is a charge whose append never completed, so it
   * was never acknowledged) is set aside in the rejected file and counted, never fatal; its segment
   * is rewritten without it.
   */
  private void load() throws IOException {
    files.deleteStaleTemporaries();
    List<Path> found = new ArrayList<>(segmentFiles(directory));
    long next =
        found.isEmpty()
            ? 0
            : SpoolSegment.sequenceOf(found.get(found.size() - 1).getFileName().toString()) + 1;
    Path legacy = directory.resolve(LEGACY_FILE);
    if (Files.exists(legacy)) {
      List<Path> split = files.split(legacy, next, segmentRecords);
      found.addAll(split);
      next += split.size();
    }
    for (Path file : found) {
      SpoolSegment segment =
          new SpoolSegment(directory, SpoolSegment.sequenceOf(file.getFileName().toString()));
      int setAside =
          files.scan(
              file,
              true,
              (record, lineBytes) -> {
                segment.add(record, lineBytes);
                countDebit(record, 1);
              });
      if (segment.size() == 0) {
        files.delete(file);
        continue;
      }
      if (setAside > 0) {
        List<SpoolRecord> good = new ArrayList<>(segment.size());
        files.scan(file, false, (record, lineBytes) -> good.add(record));
        segment.reset(good, files.write(file, good));
      }
      segment.seal();
      segments.add(segment);
      pending += segment.size();
    }
    openSegment(next);
  }

  /** Opens the segment appends go to (at start). */
  private void openSegment(long sequence) throws IOException {
    SpoolSegment segment = new SpoolSegment(directory, sequence);
    channel =
        FileChannel.open(
            segment.file(),
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.APPEND);
    files.syncDirectory();
    segments.add(segment);
  }

  private SpoolSegment open() {
    return segments.get(segments.size() - 1);
  }

  /**
   * Seals the open segment and opens the next one; should the new file fail to open, nothing
   * changes.
   */
  private void roll() {
    SpoolSegment sealing = open();
    SpoolSegment next = new SpoolSegment(directory, sealing.sequence() + 1);
    FileChannel opened;
    try {
      opened =
          FileChannel.open(
              next.file(),
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open a new segment of the charge spool", e);
    }
    files.syncDirectory();
    try {
      channel.close();
    } catch (IOException e) {
      LOG.debug("closing spool segment {}: {}", sealing.file(), e.toString());
    }
    sealing.seal();
    channel = opened;
    segments.add(next);
  }

  /** The segment files in a spool directory, oldest first. */
  static List<Path> segmentFiles(Path directory) throws IOException {
    return SpoolFiles.segmentFiles(directory);
  }

  /** Lines of the spool that could not be read and were set aside. */
  long unreadable() {
    return files.unreadable();
  }

  /**
   * Whether the spool is full for new calls: it holds its capacity less a hundredth, kept for the
   * charges of calls admitted before it filled. The ledger then refuses new metered calls.
   */
  synchronized boolean full() {
    return pending >= capacity - capacity / 100;
  }

  /**
   * Appends one record with an fsync.
   *
   * @throws SpoolFullException when the spool already holds its capacity of records
   */
  synchronized void append(SpoolRecord record) {
    if (pending >= capacity) {
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
    if (open().size() >= segmentRecords) {
      roll();
    }
    SpoolSegment segment = open();
    long[] lengths = new long[records.size()];
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < records.size(); i++) {
      String line = records.get(i).encode() + '\n';
      lengths[i] = line.getBytes(StandardCharsets.UTF_8).length;
      text.append(line);
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
        channel.truncate(segment.bytes());
      } catch (IOException ignored) {
        // The torn tail is then set aside as unreadable at the next start; nothing acknowledged
        // is lost with it.
      }
      throw new UncheckedIOException("cannot write the charge spool " + segment.file(), e);
    }
    for (int i = 0; i < records.size(); i++) {
      segment.add(records.get(i), lengths[i]);
      countDebit(records.get(i), 1);
    }
    pending += records.size();
  }

  private void countDebit(SpoolRecord record, int sign) {
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
   * {@link #done}.
   */
  long debits(String accountId) {
    Long sum = debits.get(accountId);
    return sum == null ? 0 : sum;
  }

  /**
   * Whether a pending record charges this account under this event id (or, once in 2^64, another
   * key with the same hash: the key is then taken for spent, and the caller's retry is refused).
   */
  synchronized boolean contains(String accountId, String eventId) {
    if (pending == 0) {
      return false;
    }
    long hash = SpoolSegment.keyHash(accountId, eventId);
    for (SpoolSegment segment : segments) {
      if (segment.contains(hash)) {
        return true;
      }
    }
    return false;
  }

  synchronized boolean isEmpty() {
    return pending == 0;
  }

  synchronized long size() {
    return pending;
  }

  synchronized long bytes() {
    long bytes = 0;
    for (SpoolSegment segment : segments) {
      bytes += segment.bytes();
    }
    return bytes;
  }

  /** When the oldest pending record was spooled, or null when none is pending. */
  synchronized Instant oldest() {
    for (SpoolSegment segment : segments) {
      if (segment.oldest() != null) {
        return segment.oldest();
      }
    }
    return null;
  }

  /**
   * The segments to replay, oldest first: every sealed one that holds records; when there is none,
   * the open segment is sealed first if it holds any (appends go on in a new one).
   */
  synchronized List<SpoolSegment> forReplay() {
    List<SpoolSegment> sealed = new ArrayList<>();
    for (SpoolSegment segment : segments) {
      if (segment.isSealed() && segment.size() > 0) {
        sealed.add(segment);
      }
    }
    if (sealed.isEmpty() && open().size() > 0) {
      sealed.add(open());
      roll();
    }
    return sealed;
  }

  /** The records of a sealed segment, in the order they were spooled. */
  List<SpoolRecord> read(SpoolSegment segment) {
    if (!segment.isSealed()) {
      throw new IllegalArgumentException("segment " + segment.file() + " is still open");
    }
    List<SpoolRecord> records = new ArrayList<>(segment.size());
    try {
      files.scan(segment.file(), true, (record, lineBytes) -> records.add(record));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the charge spool " + segment.file(), e);
    }
    return records;
  }

  /**
   * After a replay of a sealed segment's {@code records} (as {@link #read} returned them): drops
   * those whose bit is set in {@code done} (written to the database, or rejected). The segment is
   * deleted once empty, else rewritten with the rest; should that fail, it keeps every record, to
   * be replayed again (which is idempotent).
   */
  void done(SpoolSegment segment, List<SpoolRecord> records, BitSet done) {
    if (done.isEmpty()) {
      return;
    }
    List<SpoolRecord> left = new ArrayList<>(records.size() - done.cardinality());
    for (int i = 0; i < records.size(); i++) {
      if (!done.get(i)) {
        left.add(records.get(i));
      }
    }
    long fileBytes;
    try {
      // Outside the lock: a sealed segment is written by nobody else, and appends go on meanwhile.
      if (left.isEmpty()) {
        files.delete(segment.file());
        fileBytes = 0;
      } else {
        fileBytes = files.write(segment.file(), left);
      }
    } catch (IOException e) {
      LOG.warn("charge spool {} could not be compacted: {}", segment.file(), e.toString());
      return;
    }
    synchronized (this) {
      pending -= segment.size() - left.size();
      if (left.isEmpty()) {
        segments.remove(segment);
      }
      segment.reset(left, fileBytes);
    }
    for (int i = done.nextSetBit(0); i >= 0; i = done.nextSetBit(i + 1)) {
      countDebit(records.get(i), -1);
    }
  }

  /** Every pending record, oldest first, read from disk (for tests and tools: the whole spool). */
  synchronized List<SpoolRecord> pending() {
    List<SpoolRecord> all = new ArrayList<>();
    for (SpoolSegment segment : segments) {
      try {
        files.scan(segment.file(), false, (record, lineBytes) -> all.add(record));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the charge spool " + segment.file(), e);
      }
    }
    return all;
  }

  /** Keeps a record the database refused in the rejected file, with the reason, for an operator. */
  synchronized void reject(SpoolRecord record, String why) {
    try {
      files.reject(why.replace('\n', ' ').replace('\t', ' ') + "\t" + record.encode());
    } catch (IOException e) {
      LOG.error(
          "charge spool rejected-file write failed for event {}: {}",
          record.request().eventId(),
          e.toString());
    }
  }

  @Override
  public synchronized void close() {
    try {
      if (channel != null) {
        channel.close();
      }
      if (open().size() == 0) {
        // Nothing was appended since the start: no empty file is left behind.
        Files.deleteIfExists(open().file());
      }
      lock.release();
      lockChannel.close();
    } catch (IOException e) {
      LOG.warn("charge spool {} close failed: {}", directory, e.toString());
    }
  }
}

package dev.creditgate.ledger.jdbc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write-behind journal: charges the ledger has accepted but not yet committed to the database,
 * and the intents of calls in progress. Files {@code journal-<n>.log} in the spool directory, one
 * line per record, each line checksummed.
 *
 * <ul>
 *   <li>A <em>charge</em> record is written ({@code write(2)}, no fsync) before the charge is
 *       acknowledged, so it survives a crash of the process; the database write follows in the
 *       background and the record is then done.</li>
 *   <li>An <em>intent</em> record is written when a call is admitted and fsync'd while the upstream
 *       call runs ({@link #awaitDurable}); a call's answer waits for it. After a power loss (a
 *       different boot id), an intent without its charge is charged its estimate, so a charge whose
 *       record the page cache lost is estimated rather than lost.</li>
 *   <li>A <em>void</em> record closes an intent whose call ended without a charge.</li>
 * </ul>
 *
 * <p>A syncer thread fsyncs the current file whenever it has unsynced records (at most every
 * {@code syncIntervalNanos} unless someone waits) and starts a new file every roll interval; a
 * closed file whose records are all done is deleted.
 */
final class ChargeJournal implements AutoCloseable {

  static final String PREFIX = "journal-";
  static final String SUFFIX = ".log";
  /** Each file is zero-filled to this size when created; a file that fills up is rolled over early. */
  static final long PREALLOCATED_BYTES = 2L * 1024 * 1024;
  private static final Logger LOG = LoggerFactory.getLogger(ChargeJournal.class);
  private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

  /** A record's place: the file it is in, so that the file can go once all of its records are done. */
  static final class Ticket {
    private final Segment segment;
    private final long sequence;
    private boolean done;

    private Ticket(Segment segment, long sequence) {
      this.segment = segment;
      this.sequence = sequence;
    }
  }

  private static final class Segment {
    final long id;
    final Path path;
    final FileChannel channel;
    final long openedNanos = System.nanoTime();
    final AtomicInteger outstanding = new AtomicInteger();
    long records;
    long bytes;
    volatile boolean closed;
    /** Records of later files that must outlive this one (guarded by this segment); null once deleted. */
    List<Ticket> dependents = new ArrayList<>();

    Segment(long id, Path path, FileChannel channel) {
      this.id = id;
      this.path = path;
      this.channel = channel;
    }
  }

  /** What an earlier process left in the journal. */
  record Recovered(List<SpoolRecord> charges, List<SpoolRecord> unfinishedIntents, List<Path> files) {
  }

  private final Path directory;
  private final String bootId;
  private final long rollNanos;
  private final long syncIntervalNanos;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition dirty = lock.newCondition();
  private final Condition synced = lock.newCondition();
  private final Thread syncer;
  private Segment current;
  /** The next file, created and zero-filled ahead of time; null until it is. */
  private volatile Segment spare;
  /** Rolled-over files not yet synced since their last record (syncer thread only). */
  private final List<Segment> rolledUnsynced = new ArrayList<>();
  private volatile long lastPrepareFailure = System.nanoTime() - PREPARE_RETRY_NANOS;
  private static final long PREPARE_RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);
  private final java.util.concurrent.atomic.AtomicBoolean preparing = new java.util.concurrent.atomic.AtomicBoolean();
  private long nextSegmentId;
  private long written;
  private volatile long durable;
  private int waiters;
  private IOException syncFailure;
  private volatile boolean stopped;
  private boolean halted;
  /** Whether the syncer waits for a first unsynced record (guarded by lock). */
  private boolean syncerIdle;

  ChargeJournal(Path directory, String bootId, long firstSegmentId, long rollMillis, long syncIntervalMicros) {
    this.directory = directory;
    this.bootId = bootId;
    this.rollNanos = TimeUnit.MILLISECONDS.toNanos(rollMillis);
    this.syncIntervalNanos = TimeUnit.MICROSECONDS.toNanos(syncIntervalMicros);
    this.nextSegmentId = firstSegmentId;
    try {
      this.current = openSegment();
      this.spare = openSegment();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open a charge journal file in " + directory, e);
    }
    this.syncer = Thread.ofPlatform().daemon().name("creditgate-ledger-journal").unstarted(this::syncLoop);
    syncer.start();
  }

  /** The machine's boot id, or "" where there is none (then every unfinished intent is charged). */
  static String bootId() {
    try {
      return Files.readString(BOOT_ID, StandardCharsets.US_ASCII).trim();
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  // ------------------------------------------------------------------------------ recovery

  /**
   * Reads every journal file in {@code directory}. Charges are returned for replay (idempotent by
   * event id); an intent with neither a charge nor a void is returned as unfinished only when its
   * file was written before a reboot (another boot id), since then the page cache may have lost
   * its charge. Unfinished intents of the same boot are calls the process did not finish: their
   * answer never completed, and they are not charged (as before there was a journal).
   */
  static Recovered recover(Path directory, String currentBootId) throws IOException {
    List<Path> files = files(directory);
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
      List<String> lines = List.of(new String(content, 0, end, StandardCharsets.UTF_8).split("\n", -1));
      boolean rebooted = true;
      int number = 0;
      for (String line : lines) {
        number++;
        if (line.isEmpty()) {
          continue;
        }
        String payload = unframe(line);
        if (payload == null) {
          // A torn tail: a record whose write never completed, so nothing was acknowledged on it.
          LOG.warn("charge journal {} line {} skipped: fails its checksum", file, number);
          continue;
        }
        String[] parts = payload.split("\t", 3);
        try {
          switch (parts[0]) {
            case "H" -> rebooted = currentBootId.isEmpty() || !parts[1].equals(currentBootId);
            case "I" -> {
              SpoolRecord estimate = SpoolRecord.decode(payload.substring(2));
              String key = key(estimate.request().accountId(), estimate.request().eventId());
              intents.put(key, estimate);
              intentAfterReboot.put(key, rebooted);
              // A retry under the same key after an earlier attempt ended: only what follows counts.
              finished.remove(key);
            }
            case "C" -> {
              SpoolRecord charge = SpoolRecord.decode(parts[2]);
              charges.add(charge);
              finished.add(key(charge.request().accountId(), decode(parts[1])));
            }
            case "V" -> finished.add(key(decode(parts[1]), decode(parts[2])));
            default -> LOG.warn("charge journal {} line {} skipped: unknown record '{}'", file, number, parts[0]);
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
        LOG.info("call in progress when the process stopped, not charged: account_id={} event_id={}",
            intent.getValue().request().accountId(), intent.getValue().request().eventId());
      }
    }
    return new Recovered(charges, unfinished, files);
  }

  static List<Path> files(Path directory) throws IOException {
    List<Path> files = new ArrayList<>();
    if (!Files.isDirectory(directory)) {
      return files;
    }
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory, PREFIX + "*" + SUFFIX)) {
      for (Path p : stream) {
        files.add(p);
      }
    }
    files.sort((a, b) -> Long.compare(segmentId(a), segmentId(b)));
    return files;
  }

  static long segmentId(Path file) {
    String name = file.getFileName().toString();
    try {
      return Long.parseLong(name.substring(PREFIX.length(), name.length() - SUFFIX.length()));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  // ------------------------------------------------------------------------------ writing

  /** Journals a call's intent; {@link #awaitDurable} tells when it survives a power loss. */
  Ticket intent(SpoolRecord estimate) {
    return append("I\t" + estimate.encode());
  }

  /** Journals a charge (survives a process crash once this returns); {@code intentEventId} links its intent. */
  Ticket charge(SpoolRecord charge, String intentEventId) {
    return append("C\t" + encode(intentEventId == null ? "" : intentEventId) + "\t" + charge.encode());
  }

  /** Journals that an intent's call ended without a charge. */
  Ticket voided(String accountId, String eventId) {
    return append("V\t" + encode(accountId) + "\t" + encode(eventId));
  }

  private Ticket append(String payload) {
    // The leading newline ends a torn earlier line (a failed write that could not be cut off), so
    // this record never glues onto it.
    byte[] line = ("\n" + payload + "\t" + SpoolRecord.crc(payload) + "\n").getBytes(StandardCharsets.UTF_8);
    lock.lock();
    try {
      if (stopped) {
        throw new IllegalStateException("the charge journal is closed");
      }
      Segment segment = current;
      ByteBuffer buffer = ByteBuffer.wrap(line);
      long position = -1;
      try {
        position = segment.channel.position();
        while (buffer.hasRemaining()) {
          segment.channel.write(buffer);
        }
      } catch (IOException e) {
        try {
          if (position >= 0) {
            segment.channel.truncate(position);
            segment.channel.position(position);
          }
        } catch (IOException ignored) {
          // A torn line fails its checksum at recovery.
        }
        throw new UncheckedIOException("cannot write the charge journal " + segment.path, e);
      }
      segment.records++;
      segment.bytes += line.length;
      segment.outstanding.incrementAndGet();
      written++;
      if (syncerIdle) {
        // Only an idle syncer is woken; one gathering records for its next fsync is left alone.
        dirty.signal();
      }
      return new Ticket(segment, written);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the record is fsync'd; false when {@code timeoutNanos} passed first.
   *
   * @throws UncheckedIOException when the journal cannot be synced
   */
  boolean awaitDurable(Ticket ticket, long timeoutNanos) {
    if (durable >= ticket.sequence) {
      return true;
    }
    lock.lock();
    try {
      long left = timeoutNanos;
      waiters++;
      dirty.signal();
      try {
        while (durable < ticket.sequence) {
          if (syncFailure != null) {
            throw new UncheckedIOException("cannot sync the charge journal", syncFailure);
          }
          if (left <= 0 || stopped) {
            return false;
          }
          left = synced.awaitNanos(left);
        }
      } finally {
        waiters--;
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      lock.unlock();
    }
  }

  /** Marks a record done; a closed file whose records are all done is deleted. */
  void done(Ticket ticket) {
    Segment segment = ticket.segment;
    synchronized (ticket) {
      if (ticket.done) {
        return;
      }
      ticket.done = true;
    }
    if (segment.outstanding.decrementAndGet() == 0 && segment.closed) {
      delete(segment);
    }
  }

  private void delete(Segment segment) {
    try {
      Files.deleteIfExists(segment.path);
    } catch (IOException e) {
      LOG.warn("charge journal {} could not be deleted (its records are replayed idempotently at the next start): {}",
          segment.path, e.toString());
      return;
    }
    List<Ticket> released;
    synchronized (segment) {
      released = segment.dependents;
      segment.dependents = null;
    }
    if (released != null) {
      for (Ticket t : released) {
        done(t);
      }
    }
  }

  /**
   * Marks {@code record} done once the file holding {@code intent} is gone. A void or a charge
   * that ends an intent must stay on disk as long as the intent does: should the record's file go
   * first, recovery after a power loss would find the intent alone and charge its estimate.
   */
  void doneWhenGone(Ticket record, Ticket intent) {
    Segment holder = intent.segment;
    if (holder == record.segment) {
      done(record);
      return;
    }
    synchronized (holder) {
      if (holder.dependents != null) {
        holder.dependents.add(record);
        return;
      }
    }
    done(record);
  }

  /**
   * Creates the next file, zero-filled to {@link #PREALLOCATED_BYTES} and synced: appends then
   * overwrite blocks that already exist, so an fsync writes data only (no size or block-map change
   * for the file system to journal), as SQLite's reused WAL does.
   */
  private Segment openSegment() throws IOException {
    long id;
    lock.lock();
    try {
      id = nextSegmentId++;
    } finally {
      lock.unlock();
    }
    Path path = directory.resolve(PREFIX + String.format("%020d", id) + SUFFIX);
    FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    try {
      String header = "H\t" + (bootId.isEmpty() ? "-" : bootId) + "\t" + ProcessHandle.current().pid();
      byte[] headerLine = (header + "\t" + SpoolRecord.crc(header) + "\n").getBytes(StandardCharsets.UTF_8);
      ByteBuffer zeros = ByteBuffer.allocate(64 * 1024);
      long position = headerLine.length;
      while (position < PREALLOCATED_BYTES) {
        zeros.clear();
        zeros.limit((int) Math.min(zeros.capacity(), PREALLOCATED_BYTES - position));
        position += channel.write(zeros, position);
      }
      ByteBuffer head = ByteBuffer.wrap(headerLine);
      while (head.hasRemaining()) {
        channel.write(head, head.position());
      }
      channel.force(true);
      channel.position(headerLine.length);
      syncDirectory();
    } catch (IOException e) {
      channel.close();
      Files.deleteIfExists(path);
      throw e;
    }
    Segment segment = new Segment(id, path, channel);
    segment.bytes = channel.position();
    return segment;
  }

  private void syncDirectory() {
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      LOG.debug("cannot fsync directory {}: {}", directory, e.toString());
    }
  }

  private void syncLoop() {
    long lastSync = 0;
    while (true) {
      long target;
      Segment segment;
      Segment rolled = null;
      lock.lock();
      try {
        syncerIdle = true;
        while (!stopped && written == durable && !rollDue()) {
          dirty.awaitNanos(Math.max(rollNanos, 1));
        }
        syncerIdle = false;
        if (stopped && (halted || written == durable)) {
          return;
        }
        // Unless someone waits for it, let records gather for a group fsync.
        long wait = syncIntervalNanos - (System.nanoTime() - lastSync);
        while (waiters == 0 && !stopped && wait > 0) {
          wait = dirty.awaitNanos(wait);
        }
        target = written;
        segment = current;
        if (rollDue() && !stopped && spare != null) {
          current = spare;
          spare = null;
          rolled = segment;
        }
      } catch (InterruptedException e) {
        return;
      } finally {
        lock.unlock();
      }
      if (rolled != null) {
        rolledUnsynced.add(rolled);
      }
      IOException failure = null;
      // Files rolled over whose last fsync failed are synced again first: records in them count
      // as durable only once they are.
      for (Segment unsynced : List.copyOf(rolledUnsynced)) {
        try {
          unsynced.channel.force(false);
          rolledUnsynced.remove(unsynced);
          close(unsynced);
        } catch (IOException e) {
          failure = e;
          LOG.error("charge journal {} cannot be synced: {}", unsynced.path, e.toString());
        }
      }
      if (failure == null && (rolled == null || segment != rolled)) {
        try {
          segment.channel.force(false);
        } catch (IOException e) {
          failure = e;
          LOG.error("charge journal {} cannot be synced: {}", segment.path, e.toString());
        }
      }
      lastSync = System.nanoTime();
      lock.lock();
      try {
        if (failure == null) {
          durable = Math.max(durable, target);
          syncFailure = null;
        } else {
          syncFailure = failure;
        }
        synced.signalAll();
      } finally {
        lock.unlock();
      }
      if (spare == null && !stopped && System.nanoTime() - lastPrepareFailure > PREPARE_RETRY_NANOS
          && preparing.compareAndSet(false, true)) {
        // Zero-filling the next file takes milliseconds; the syncer does not wait for it.
        Thread.ofPlatform().daemon().name("creditgate-ledger-journal-prepare").start(() -> {
          try {
            prepareSpare();
          } finally {
            preparing.set(false);
          }
        });
      }
      if (failure != null) {
        if (stopped) {
          return;
        }
        try {
          Thread.sleep(10);
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  private static void closeChannel(Segment segment) {
    try {
      segment.channel.close();
    } catch (IOException e) {
      LOG.debug("charge journal {} close failed: {}", segment.path, e.toString());
    }
  }

  private boolean rollDue() {
    return current.records > 0 && spare != null
        && (System.nanoTime() - current.openedNanos >= rollNanos || current.bytes >= PREALLOCATED_BYTES * 3 / 4);
  }

  /** Creates the next file ahead of time (outside the lock: zero-filling it takes milliseconds). */
  private void prepareSpare() {
    lock.lock();
    try {
      if (spare != null || stopped) {
        return;
      }
    } finally {
      lock.unlock();
    }
    Segment created;
    try {
      created = openSegment();
    } catch (IOException e) {
      LOG.warn("charge journal cannot create its next file in {} (the current one keeps growing): {}", directory,
          e.toString());
      lastPrepareFailure = System.nanoTime();
      return;
    }
    lock.lock();
    try {
      if (!stopped) {
        spare = created;
        return;
      }
    } finally {
      lock.unlock();
    }
    discard(created);
  }

  private void discard(Segment segment) {
    closeChannel(segment);
    delete(segment);
  }

  private void close(Segment segment) {
    closeChannel(segment);
    segment.closed = true;
    if (segment.outstanding.get() == 0) {
      delete(segment);
    }
  }

  /**
   * Stops writing and syncing at once and deletes nothing: what a killed process leaves behind
   * (for tests of the recovery).
   */
  void halt() {
    lock.lock();
    try {
      stopped = true;
      halted = true;
      dirty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Stops the syncer after a last fsync. Files with records not done stay for the next start; a
   * file whose records are all done is deleted.
   */
  @Override
  public void close() {
    lock.lock();
    try {
      if (stopped) {
        return;
      }
      stopped = true;
      dirty.signalAll();
    } finally {
      lock.unlock();
    }
    try {
      syncer.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    close(current);
    lock.lock();
    Segment unused;
    try {
      unused = spare;
      spare = null;
    } finally {
      lock.unlock();
    }
    if (unused != null) {
      discard(unused);
    }
  }

  // ------------------------------------------------------------------------------ format

  private static String key(String accountId, String eventId) {
    return accountId + "\n" + eventId;
  }

  private static String encode(String value) {
    return java.net.URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  private static String decode(String value) {
    return java.net.URLDecoder.decode(value, StandardCharsets.UTF_8);
  }

  /** The payload of a framed line, or null when its checksum fails. */
  private static String unframe(String line) {
    int tab = line.lastIndexOf('\t');
    if (tab < 0 || !line.substring(tab + 1).equals(SpoolRecord.crc(line.substring(0, tab)))) {
      return null;
    }
    return line.substring(0, tab);
  }
}

package dev.creditgate.ledger.jdbc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
 *       background and the record is then done.
 *   <li>An <em>intent</em> record is written when a call is admitted and fsync'd while the upstream
 *       call runs ({@link #awaitDurable}); a call's answer waits for it. After a power loss (a
 *       different boot id), an intent without its charge is charged its estimate, so a charge whose
 *       record the page cache lost is estimated rather than lost.
 *   <li>A <em>void</em> record closes an intent whose call ended without a charge.
 * </ul>
 *
 * <p>A syncer thread fsyncs the current file whenever it has unsynced records (at most every {@code
 * syncIntervalNanos} unless someone waits) and starts a new file every roll interval; a closed file
 * whose records are all done is deleted.
 */
final class ChargeJournal implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ChargeJournal.class);
  private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

  /**
   * A record's place: the file it is in, so that the file can go once all of its records are done.
   */
  static final class Ticket {
    private final JournalSegment segment;
    private final long sequence;
    private boolean done;

    private Ticket(JournalSegment segment, long sequence) {
      this.segment = segment;
      this.sequence = sequence;
    }
  }

  private final Path directory;
  private final String bootId;
  private final long rollNanos;
  private final long syncIntervalNanos;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition dirty = lock.newCondition();
  private final Condition synced = lock.newCondition();
  private final Thread syncer;
  private JournalSegment current;

  /** The next file, created and zero-filled ahead of time; null until it is. */
  private volatile JournalSegment spare;

  /** Rolled-over files not yet synced since their last record (syncer thread only). */
  private final List<JournalSegment> rolledUnsynced = new ArrayList<>();

  private volatile long lastPrepareFailure = System.nanoTime() - PREPARE_RETRY_NANOS;
  private static final long PREPARE_RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);
  private final AtomicBoolean preparing = new AtomicBoolean();
  private long nextSegmentId;
  private long written;
  private volatile long durable;
  private int waiters;
  private IOException syncFailure;
  private volatile boolean stopped;
  private boolean halted;

  /** Whether the syncer waits for a first unsynced record (guarded by lock). */
  private boolean syncerIdle;

  ChargeJournal(
      Path directory,
      String bootId,
      long firstSegmentId,
      long rollMillis,
      long syncIntervalMicros) {
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
    this.syncer =
        Thread.ofPlatform().daemon().name("creditgate-ledger-journal").unstarted(this::syncLoop);
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

  // ------------------------------------------------------------------------------ writing

  /** Journals a call's intent; {@link #awaitDurable} tells when it survives a power loss. */
  Ticket intent(SpoolRecord estimate) {
    return append(JournalFormat.INTENT + "\t" + estimate.encode());
  }

  /**
   * Journals a charge (survives a process crash once this returns); {@code intentEventId} links its
   * intent.
   */
  Ticket charge(SpoolRecord charge, String intentEventId) {
    return append(
        JournalFormat.CHARGE
            + "\t"
            + JournalFormat.encode(intentEventId == null ? "" : intentEventId)
            + "\t"
            + charge.encode());
  }

  /** Journals that an intent's call ended without a charge. */
  Ticket voided(String accountId, String eventId) {
    return append(
        JournalFormat.VOID
            + "\t"
            + JournalFormat.encode(accountId)
            + "\t"
            + JournalFormat.encode(eventId));
  }

  private Ticket append(String payload) {
    // The leading newline ends a torn earlier line (a failed write that could not be cut off), so
    // this record never glues onto it.
    byte[] line = ("\n" + JournalFormat.frame(payload) + "\n").getBytes(StandardCharsets.UTF_8);
    lock.lock();
    try {
      if (stopped) {
        throw new IllegalStateException("the charge journal is closed");
      }
      JournalSegment segment = current;
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
    JournalSegment segment = ticket.segment;
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

  private void delete(JournalSegment segment) {
    try {
      Files.deleteIfExists(segment.path);
    } catch (IOException e) {
      LOG.warn(
          "charge journal {} could not be deleted (its records are replayed idempotently at the next start): {}",
          segment.path,
          e.toString());
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
   * Marks {@code record} done once the file holding {@code intent} is gone. A void or a charge that
   * ends an intent must stay on disk as long as the intent does: should the record's file go first,
   * recovery after a power loss would find the intent alone and charge its estimate.
   */
  void doneWhenGone(Ticket record, Ticket intent) {
    JournalSegment holder = intent.segment;
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

  private JournalSegment openSegment() throws IOException {
    long id;
    lock.lock();
    try {
      id = nextSegmentId++;
    } finally {
      lock.unlock();
    }
    return JournalSegment.create(directory, id, bootId);
  }

  private void syncLoop() {
    long lastSync = 0;
    while (true) {
      long target;
      JournalSegment segment;
      JournalSegment rolled = null;
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
      for (JournalSegment unsynced : List.copyOf(rolledUnsynced)) {
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
      if (spare == null
          && !stopped
          && System.nanoTime() - lastPrepareFailure > PREPARE_RETRY_NANOS
          && preparing.compareAndSet(false, true)) {
        // Zero-filling the next file takes milliseconds; the syncer does not wait for it.
        Thread.ofPlatform()
            .daemon()
            .name("creditgate-ledger-journal-prepare")
            .start(
                () -> {
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

  private boolean rollDue() {
    return current.records > 0
        && spare != null
        && (System.nanoTime() - current.openedNanos >= rollNanos
            || current.bytes >= JournalSegment.PREALLOCATED_BYTES * 3 / 4);
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
    JournalSegment created;
    try {
      created = openSegment();
    } catch (IOException e) {
      LOG.warn(
          "charge journal cannot create its next file in {} (the current one keeps growing): {}",
          directory,
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

  private void discard(JournalSegment segment) {
    segment.closeChannel();
    delete(segment);
  }

  private void close(JournalSegment segment) {
    segment.closeChannel();
    segment.closed = true;
    if (segment.outstanding.get() == 0) {
      delete(segment);
    }
  }

  /**
   * Stops writing and syncing at once and deletes nothing: what a killed process leaves behind (for
   * tests of the recovery).
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
    JournalSegment unused;
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
}

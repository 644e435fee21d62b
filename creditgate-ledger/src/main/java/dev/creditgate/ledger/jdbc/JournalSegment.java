package dev.creditgate.ledger.jdbc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One file of the write-behind journal, {@code journal-<id>.log}: created zero-filled with its
 * header, then appended to until the journal rolls over; deleted once all its records are done.
 */
final class JournalSegment {

  static final String PREFIX = "journal-";
  static final String SUFFIX = ".log";

  /**
   * Each file is zero-filled to this size when created; a file that fills up is rolled over early.
   */
  static final long PREALLOCATED_BYTES = 2L * 1024 * 1024;

  private static final Logger LOG = LoggerFactory.getLogger(JournalSegment.class);

  final long id;
  final Path path;
  final FileChannel channel;
  final long openedNanos = System.nanoTime();

  /** Records not done yet. */
  final AtomicInteger outstanding = new AtomicInteger();

  /** Records and bytes written (guarded by the journal's lock). */
  long records;

  long bytes;
  volatile boolean closed;

  /**
   * Records of later files that must outlive this one (guarded by this segment); null once deleted.
   */
  List<ChargeJournal.Ticket> dependents = new ArrayList<>();

  private JournalSegment(long id, Path path, FileChannel channel) {
    this.id = id;
    this.path = path;
    this.channel = channel;
  }

  /**
   * Creates the file, zero-filled to {@link #PREALLOCATED_BYTES} and synced: appends then overwrite
   * blocks that already exist, so an fsync writes data only (no size or block-map change for the
   * file system to journal), as SQLite's reused WAL does.
   */
  static JournalSegment create(Path directory, long id, String bootId) throws IOException {
    Path path = directory.resolve(PREFIX + String.format("%020d", id) + SUFFIX);
    FileChannel channel =
        FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    try {
      String header =
          JournalFormat.HEADER
              + "\t"
              + (bootId.isEmpty() ? "-" : bootId)
              + "\t"
              + ProcessHandle.current().pid();
      byte[] headerLine = (JournalFormat.frame(header) + "\n").getBytes(StandardCharsets.UTF_8);
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
      syncDirectory(directory);
    } catch (IOException e) {
      channel.close();
      Files.deleteIfExists(path);
      throw e;
    }
    JournalSegment segment = new JournalSegment(id, path, channel);
    segment.bytes = channel.position();
    return segment;
  }

  private static void syncDirectory(Path directory) {
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      LOG.debug("cannot fsync directory {}: {}", directory, e.toString());
    }
  }

  void closeChannel() {
    try {
      channel.close();
    } catch (IOException e) {
      LOG.debug("charge journal {} close failed: {}", path, e.toString());
    }
  }

  /** The journal files in {@code directory}, oldest first. */
  static List<Path> files(Path directory) throws IOException {
    List<Path> files = new ArrayList<>();
    if (!Files.isDirectory(directory)) {
      return files;
    }
    try (DirectoryStream<Path> stream =
        Files.newDirectoryStream(directory, PREFIX + "*" + SUFFIX)) {
      for (Path p : stream) {
        files.add(p);
      }
    }
    files.sort((a, b) -> Long.compare(id(a), id(b)));
    return files;
  }

  /** The id in a journal file's name; -1 when it has none. */
  static long id(Path file) {
    String name = file.getFileName().toString();
    try {
      return Long.parseLong(name.substring(PREFIX.length(), name.length() - SUFFIX.length()));
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}

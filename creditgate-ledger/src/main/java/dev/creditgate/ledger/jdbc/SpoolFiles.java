package dev.creditgate.ledger.jdbc;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The files of a spool directory: segments read line by line (never whole) and written atomically
 * (a temporary file, fsync, rename, directory fsync), and the rejected file, where a line that is
 * no record is set aside for an operator and counted.
 */
final class SpoolFiles {

  private static final Logger LOG = LoggerFactory.getLogger(SpoolFiles.class);

  private final Path directory;
  private final AtomicLong unreadable = new AtomicLong();

  SpoolFiles(Path directory) {
    this.directory = directory;
  }

  /** What {@link #scan} hands each record of a file, with the size of its line. */
  @FunctionalInterface
  interface RecordVisitor {
    void visit(SpoolRecord record, long lineBytes) throws IOException;
  }

  /** The segment files in a spool directory, oldest first. */
  static List<Path> segmentFiles(Path directory) throws IOException {
    if (!Files.isDirectory(directory)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(directory)) {
      return files
          .filter(f -> SpoolSegment.sequenceOf(f.getFileName().toString()) >= 0)
          .sorted()
          .toList();
    }
  }

  /** Deletes the temporary files of rewrites a crash interrupted before their rename. */
  void deleteStaleTemporaries() throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      for (Path stale : files.filter(f -> f.toString().endsWith(".spool.tmp")).toList()) {
        Files.delete(stale);
      }
    }
  }

  /** Lines that were no record and were set aside. */
  long unreadable() {
    return unreadable.get();
  }

  /**
   * Reads a file's records line by line; a line that is no record (not valid UTF-8, failing its
   * checksum, torn by a crash mid-append, so never acknowledged) is skipped, and set aside and
   * counted when {@code setAside}. Returns how many lines were skipped.
   */
  int scan(Path file, boolean setAside, RecordVisitor visitor) throws IOException {
    int skipped = 0;
    int lineNumber = 0;
    try (BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
      ByteArrayOutputStream line = new ByteArrayOutputStream(512);
      int b;
      do {
        b = in.read();
        if (b != '\n' && b != -1) {
          line.write(b);
          continue;
        }
        lineNumber++;
        if (line.size() > 0) {
          SpoolRecord record = decode(file, line.toByteArray(), lineNumber, setAside);
          if (record == null) {
            skipped++;
          } else {
            visitor.visit(record, line.size() + (b == '\n' ? 1 : 0));
          }
        }
        line.reset();
      } while (b != -1);
    }
    return skipped;
  }

  private SpoolRecord decode(Path file, byte[] bytes, int lineNumber, boolean setAside)
      throws IOException {
    String text;
    String why;
    try {
      text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
      try {
        return SpoolRecord.decode(text);
      } catch (RuntimeException e) {
        why = e.getMessage();
      }
    } catch (CharacterCodingException e) {
      text = new String(bytes, StandardCharsets.UTF_8);
      why = "not valid UTF-8";
    }
    if (setAside) {
      unreadable.incrementAndGet();
      LOG.warn("charge spool {} line {} set aside: {}", file, lineNumber, why);
      reject("unreadable\t" + text.replace('\n', ' '));
    }
    return null;
  }

  /**
   * Splits a spool file of an earlier version (one file, however long) into segments of {@code
   * segmentRecords} numbered from {@code first}, then deletes it; returns the segments' files.
   */
  List<Path> split(Path legacy, long first, int segmentRecords) throws IOException {
    List<Path> written = new ArrayList<>();
    List<SpoolRecord> chunk = new ArrayList<>(segmentRecords);
    scan(
        legacy,
        true,
        (record, lineBytes) -> {
          chunk.add(record);
          if (chunk.size() == segmentRecords) {
            Path file = directory.resolve(SpoolSegment.name(first + written.size()));
            write(file, chunk);
            written.add(file);
            chunk.clear();
          }
        });
    if (!chunk.isEmpty()) {
      Path file = directory.resolve(SpoolSegment.name(first + written.size()));
      write(file, chunk);
      written.add(file);
    }
    Files.delete(legacy);
    syncDirectory();
    LOG.info("charge spool {} split into {} segments", legacy, written.size());
    return written;
  }

  /** Writes {@code records} as a segment file in place of {@code file}, atomically; its size. */
  long write(Path file, List<SpoolRecord> records) throws IOException {
    Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
    StringBuilder text = new StringBuilder();
    for (SpoolRecord record : records) {
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
    Files.move(
        temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    syncDirectory();
    return content.length;
  }

  /** Deletes a segment file (once all its records left the spool). */
  void delete(Path file) throws IOException {
    Files.deleteIfExists(file);
    syncDirectory();
  }

  /** Makes the directory's entries (a file created, renamed or deleted) durable. */
  void syncDirectory() {
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // Not every platform can fsync a directory; the rename itself is still atomic.
      LOG.debug("cannot fsync directory {}: {}", directory, e.toString());
    }
  }

  /** Appends a line to the rejected file, with an fsync. */
  void reject(String line) throws IOException {
    try (FileChannel out =
        FileChannel.open(
            directory.resolve(ChargeSpool.REJECTED_FILE),
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.APPEND)) {
      ByteBuffer buffer = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
      while (buffer.hasRemaining()) {
        out.write(buffer);
      }
      out.force(false);
    }
  }
}

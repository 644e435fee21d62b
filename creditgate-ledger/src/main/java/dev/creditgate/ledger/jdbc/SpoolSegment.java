package dev.creditgate.ledger.jdbc;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * One file of the charge spool and what the spool keeps of it in memory: how many records it holds,
 * its size, when its oldest record was spooled, and a 64-bit hash of each record's key (account and
 * event id), 8 bytes a record, so that the spool of a long outage does not fill the heap. The
 * records themselves stay on disk until they are replayed. Guarded by the spool's lock.
 */
final class SpoolSegment {

  private static final String PREFIX = "charges-";
  private static final String SUFFIX = ".spool";

  private final long sequence;
  private final Path file;
  private long[] keys = new long[64];
  private int size;
  private long bytes;
  private Instant oldest;

  /** Whether {@link #keys} is sorted: a sealed segment's, searched by bisection. */
  private boolean sealed;

  SpoolSegment(Path directory, long sequence) {
    this.sequence = sequence;
    this.file = directory.resolve(name(sequence));
  }

  /** The file name of the segment with this sequence number; names sort in sequence order. */
  static String name(long sequence) {
    return PREFIX + String.format("%016d", sequence) + SUFFIX;
  }

  /** The sequence number a segment's file name carries, or -1 when it is not a segment's name. */
  static long sequenceOf(String fileName) {
    if (!fileName.startsWith(PREFIX)
        || !fileName.endsWith(SUFFIX)
        || fileName.length() != name(0).length()) {
      return -1;
    }
    String digits = fileName.substring(PREFIX.length(), fileName.length() - SUFFIX.length());
    for (int i = 0; i < digits.length(); i++) {
      if (!Character.isDigit(digits.charAt(i))) {
        return -1;
      }
    }
    return Long.parseLong(digits);
  }

  /** The hash the spool keeps of a record's key: the first 8 bytes of its SHA-256. */
  static long keyHash(String accountId, String eventId) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(LedgerTables.key(accountId, eventId).getBytes(StandardCharsets.UTF_8));
      return ByteBuffer.wrap(digest).getLong();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }

  static long keyHash(SpoolRecord record) {
    return keyHash(record.request().accountId(), record.request().eventId());
  }

  long sequence() {
    return sequence;
  }

  Path file() {
    return file;
  }

  int size() {
    return size;
  }

  long bytes() {
    return bytes;
  }

  /** When the oldest record of the segment was spooled, or null when it holds none. */
  Instant oldest() {
    return oldest;
  }

  boolean isSealed() {
    return sealed;
  }

  /**
   * Counts a record appended to (or read from) the segment's file as a line of {@code lineBytes}.
   */
  void add(SpoolRecord record, long lineBytes) {
    if (sealed) {
      throw new IllegalStateException("segment " + file + " is sealed");
    }
    if (size == keys.length) {
      keys = Arrays.copyOf(keys, size * 2);
    }
    keys[size++] = keyHash(record);
    bytes += lineBytes;
    if (oldest == null) {
      oldest = record.spooledAt();
    }
  }

  /** No more appends: its keys are sorted for search. */
  void seal() {
    Arrays.sort(keys, 0, size);
    sealed = true;
  }

  /** Whether one of the segment's records has this key hash. */
  boolean contains(long keyHash) {
    if (sealed) {
      return Arrays.binarySearch(keys, 0, size, keyHash) >= 0;
    }
    for (int i = 0; i < size; i++) {
      if (keys[i] == keyHash) {
        return true;
      }
    }
    return false;
  }

  /**
   * After the segment's file was rewritten with {@code left} in {@code fileBytes}: counts those.
   */
  void reset(List<SpoolRecord> left, long fileBytes) {
    long[] rebuilt = new long[Math.max(64, left.size())];
    for (int i = 0; i < left.size(); i++) {
      rebuilt[i] = keyHash(left.get(i));
    }
    keys = rebuilt;
    size = left.size();
    bytes = fileBytes;
    oldest = left.isEmpty() ? null : left.get(0).spooledAt();
    if (sealed) {
      Arrays.sort(keys, 0, size);
    }
  }
}

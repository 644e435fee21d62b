package dev.creditgate.redis;

import dev.creditgate.CacheLookup;
import dev.creditgate.CreditSnapshot;
import java.time.Instant;

/**
 * The text form of a snapshot in Redis, chosen so an operator can read it with {@code redis-cli
 * GET} and the versioned-write script can compare versions without decoding anything else:
 *
 * <pre>
 * 1|&lt;version&gt;|&lt;availableCredit&gt;|&lt;blocked 0 or 1&gt;|&lt;epochSecond&gt;.&lt;nanos, 9 digits&gt;
 * </pre>
 *
 * The leading {@code 1} is the format version. The blocked marker's value is the decimal snapshot
 * version it was set for. Both are documented in docs/redis.md.
 */
final class SnapshotCodec {

  static final String FORMAT = "1";

  private SnapshotCodec() {}

  static String encode(CreditSnapshot snapshot) {
    Instant at = snapshot.updatedAt();
    StringBuilder out =
        new StringBuilder(64)
            .append(FORMAT)
            .append('|')
            .append(snapshot.version())
            .append('|')
            .append(snapshot.availableCredit())
            .append('|')
            .append(snapshot.blocked() ? '1' : '0')
            .append('|')
            .append(at.getEpochSecond())
            .append('.');
    String nanos = Integer.toString(at.getNano());
    out.append("000000000", nanos.length(), 9).append(nanos);
    return out.toString();
  }

  /** The snapshot in {@code value}, or {@code null} when the value is not in this format. */
  static CreditSnapshot decode(String value) {
    if (value == null) {
      return null;
    }
    String[] parts = value.split("\\|", -1);
    if (parts.length != 5 || !FORMAT.equals(parts[0])) {
      return null;
    }
    try {
      long version = Long.parseLong(parts[1]);
      long credit = Long.parseLong(parts[2]);
      boolean blocked;
      switch (parts[3]) {
        case "0" -> blocked = false;
        case "1" -> blocked = true;
        default -> {
          return null;
        }
      }
      int dot = parts[4].indexOf('.');
      if (dot < 0 || parts[4].length() - dot - 1 != 9) {
        return null;
      }
      long seconds = Long.parseLong(parts[4], 0, dot, 10);
      int nanos = Integer.parseInt(parts[4], dot + 1, parts[4].length(), 10);
      if (version < 0 || nanos < 0) {
        return null;
      }
      return new CreditSnapshot(credit, blocked, version, Instant.ofEpochSecond(seconds, nanos));
    } catch (RuntimeException e) {
      return null;
    }
  }

  /**
   * The marker version in {@code value}, {@link CacheLookup#NO_MARKER} when absent, or -2 when
   * malformed.
   */
  static long decodeMarker(String value) {
    if (value == null) {
      return CacheLookup.NO_MARKER;
    }
    try {
      long version = Long.parseLong(value);
      return version >= 0 ? version : -2;
    } catch (NumberFormatException e) {
      return -2;
    }
  }
}

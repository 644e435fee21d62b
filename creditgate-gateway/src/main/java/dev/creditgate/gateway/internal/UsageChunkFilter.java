package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Takes the usage-only chunk (a {@code usage} object and empty {@code choices}) out of a stream and
 * keeps the last one, to be written with the charge once the call is settled, or not at all. The
 * gateway always asks the upstream for {@code stream_options.include_usage} so it can charge; a
 * client that did not ask would otherwise get an extra chunk with empty {@code choices}, which
 * naive clients index into, and a client that did gets the chunk at the end, with {@link
 * SettleUsage#CHARGED_FIELD} added. Works line by line: each complete line is passed on at once, so
 * the stream is still relayed as it arrives. A line longer than {@link #MAX_HELD_BYTES} cannot be a
 * usage-only event worth holding: it is passed on as it comes rather than held. So at most one
 * usage chunk of at most that size is kept; an earlier one is dropped for a later one (the last
 * carries the final counts).
 */
final class UsageChunkFilter {

  static final int MAX_HELD_BYTES = 64 * 1024;
  private static final byte[] DATA = "data:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] USAGE = "\"usage\"".getBytes(StandardCharsets.US_ASCII);

  private byte[] partial = new byte[256];
  private int partialLen;
  private boolean passing;
  private boolean skipBlank;
  private ObjectNode usageChunk;

  /** The bytes to forward for this read: every line it completed, minus usage-only events. */
  byte[] feed(byte[] buf, int off, int len) {
    byte[] out = new byte[partialLen + len];
    int n = 0;
    int end = off + len;
    int start = off;
    for (int nl = SseScanner.indexOf(buf, (byte) '\n', start, end);
        nl >= 0;
        nl = SseScanner.indexOf(buf, (byte) '\n', start, end)) {
      int lineLen = nl + 1 - start;
      if (passing) {
        passing = false;
        System.arraycopy(buf, start, out, n, lineLen);
        n += lineLen;
      } else if (partialLen == 0) {
        if (keep(buf, start, lineLen)) {
          System.arraycopy(buf, start, out, n, lineLen);
          n += lineLen;
        }
      } else {
        append(buf, start, lineLen);
        if (keep(partial, 0, partialLen)) {
          System.arraycopy(partial, 0, out, n, partialLen);
          n += partialLen;
        }
        partialLen = 0;
      }
      start = nl + 1;
    }
    if (start < end) {
      if (passing) {
        System.arraycopy(buf, start, out, n, end - start);
        n += end - start;
      } else {
        append(buf, start, end - start);
        if (partialLen > MAX_HELD_BYTES) {
          System.arraycopy(partial, 0, out, n, partialLen);
          n += partialLen;
          partialLen = 0;
          passing = true;
        }
      }
    }
    return n == out.length ? out : Arrays.copyOf(out, n);
  }

  /** The last usage-only chunk taken out of the stream, or null when none was. */
  ObjectNode usageChunk() {
    return usageChunk;
  }

  /** What is left of an unterminated last line. */
  byte[] finish() {
    byte[] rest = Arrays.copyOf(partial, partialLen);
    partialLen = 0;
    return rest;
  }

  private void append(byte[] b, int off, int len) {
    if (partialLen + len > partial.length) {
      partial = Arrays.copyOf(partial, Math.max(partial.length * 2, partialLen + len));
    }
    System.arraycopy(b, off, partial, partialLen, len);
    partialLen += len;
  }

  /** Whether a complete line ({@code len} includes its LF) is forwarded. */
  private boolean keep(byte[] b, int off, int len) {
    if (skipBlank) {
      skipBlank = false;
      if (len == 1 || (len == 2 && b[off] == '\r')) {
        return false;
      }
    }
    if (len < DATA.length + 1
        || !Arrays.equals(b, off, off + DATA.length, DATA, 0, DATA.length)
        || !contains(b, off + DATA.length, off + len, USAGE)) {
      return true;
    }
    try {
      JsonNode node = Json.MAPPER.readTree(b, off + DATA.length, len - DATA.length);
      boolean usageOnly =
          node.path("usage").isObject()
              && node.path("choices").isArray()
              && node.path("choices").isEmpty();
      if (usageOnly) {
        usageChunk = (ObjectNode) node;
        skipBlank = true;
        return false;
      }
    } catch (Exception e) {
      return true;
    }
    return true;
  }

  private static boolean contains(byte[] b, int from, int to, byte[] what) {
    outer:
    for (int i = from; i <= to - what.length; i++) {
      for (int k = 0; k < what.length; k++) {
        if (b[i + k] != what[k]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }
}

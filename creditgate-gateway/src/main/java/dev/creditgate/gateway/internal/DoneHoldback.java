package dev.creditgate.gateway.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Holds back a stream's closing {@code data: [DONE]} event (and anything after it) so that the
 * gateway can charge the call before the client sees the stream complete: a gateway killed between
 * the two then leaves an incomplete stream, not a completed call with no charge.
 *
 * <p>The marker is recognised only at the start of a line, so a completion whose text contains it
 * (JSON strings carry no raw newline) is not held. Bytes of the marker that arrived in an earlier
 * piece have already gone out; the event is still incomplete without its last byte.
 */
final class DoneHoldback {

  private static final byte[] MARKER = "data: [DONE]".getBytes(StandardCharsets.US_ASCII);

  private final ByteArrayOutputStream held = new ByteArrayOutputStream();
  private boolean holding;
  private boolean lineStart = true;
  private int matched;

  /**
   * Returns how many of {@code len} bytes from {@code off} may be written now; the rest are held.
   */
  int pass(byte[] b, int off, int len) {
    if (holding) {
      held.write(b, off, len);
      return 0;
    }
    for (int i = 0; i < len; i++) {
      byte c = b[off + i];
      if (matched > 0) {
        matched = c == MARKER[matched] ? matched + 1 : 0;
      } else if (lineStart && c == MARKER[0]) {
        matched = 1;
      }
      lineStart = c == '\n';
      if (matched == MARKER.length) {
        int start = Math.max(0, i + 1 - MARKER.length);
        holding = true;
        held.write(b, off + start, len - start);
        return start;
      }
    }
    return len;
  }

  /**
   * The held bytes (empty when the stream had no {@code [DONE]}); to be written after the charge.
   */
  byte[] release() {
    byte[] out = held.toByteArray();
    held.reset();
    return out;
  }
}

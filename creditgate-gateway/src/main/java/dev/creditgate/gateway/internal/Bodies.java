package dev.creditgate.gateway.internal;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/** Reads request and response bodies into memory, bounded. */
public final class Bodies {

  /** The first buffer for a body of unknown length; it doubles as needed. */
  static final int UNKNOWN_LENGTH_BUFFER = 4096;

  /** The most allocated on a declared length alone. */
  static final int PREALLOCATED_AT_MOST = 1024 * 1024;

  private Bodies() {}

  /**
   * Reads a body to its end, at most {@code limit} bytes. {@code sizeHint} is its declared length
   * (-1 when unknown): a body of that length is read into one array of exactly its size, not
   * through the JDK's 16 KiB chunks and a final copy.
   *
   * @throws TooLargeException when the body is longer than {@code limit}
   */
  public static byte[] readAll(InputStream in, long limit, long sizeHint) throws IOException {
    int max = (int) Math.min(limit, Integer.MAX_VALUE - 16);
    // A declared length is believed up to a point: more is allocated only as bytes arrive.
    int initial =
        (int)
            Math.min(
                sizeHint >= 0 ? Math.min(sizeHint, PREALLOCATED_AT_MOST) : UNKNOWN_LENGTH_BUFFER,
                max);
    byte[] buf = new byte[initial];
    int len = 0;
    while (true) {
      if (len == buf.length) {
        // Full: one more byte tells whether the body ends here.
        int next = in.read();
        if (next == -1) {
          return buf;
        }
        if (len >= max) {
          throw new TooLargeException(limit);
        }
        buf =
            Arrays.copyOf(
                buf, (int) Math.min(max, Math.max(UNKNOWN_LENGTH_BUFFER, 2L * buf.length)));
        buf[len++] = (byte) next;
        continue;
      }
      int n = in.read(buf, len, buf.length - len);
      if (n == -1) {
        return len == buf.length ? buf : Arrays.copyOf(buf, len);
      }
      len += n;
    }
  }

  /** A body longer than the limit it was read with. */
  public static final class TooLargeException extends IOException {
    private static final long serialVersionUID = 1L;
    private final long limit;

    TooLargeException(long limit) {
      super("the body is longer than " + limit + " bytes");
      this.limit = limit;
    }

    public long limit() {
      return limit;
    }
  }
}

package dev.creditgate.gateway.internal;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Bounds the wait for each read: when no byte arrives within the idle timeout the underlying stream
 * is closed, which ends the blocked read with an {@link IOException}. The JDK HTTP client has a
 * timeout for the response headers but none between body chunks.
 */
final class IdleTimeoutInputStream extends FilterInputStream {

  private final ScheduledExecutorService timer;
  private final long idleNanos;
  private volatile boolean timedOut;

  IdleTimeoutInputStream(InputStream in, ScheduledExecutorService timer, long idleNanos) {
    super(in);
    this.timer = timer;
    this.idleNanos = idleNanos;
  }

  @Override
  public int read() throws IOException {
    ScheduledFuture<?> alarm = arm();
    try {
      return check(super.read());
    } finally {
      alarm.cancel(false);
    }
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    ScheduledFuture<?> alarm = arm();
    try {
      return check(super.read(b, off, len));
    } catch (IOException e) {
      if (timedOut) {
        throw new UpstreamIdleTimeoutException();
      }
      throw e;
    } finally {
      alarm.cancel(false);
    }
  }

  private int check(int n) throws IOException {
    if (timedOut) {
      throw new UpstreamIdleTimeoutException();
    }
    return n;
  }

  private ScheduledFuture<?> arm() {
    return timer.schedule(() -> {
      timedOut = true;
      try {
        in.close();
      } catch (IOException ignored) {
        // Closing is how the read is ended; a failure to close leaves nothing to do.
      }
    }, idleNanos, TimeUnit.NANOSECONDS);
  }

  boolean timedOut() {
    return timedOut;
  }

  /** No byte within the idle timeout. */
  static final class UpstreamIdleTimeoutException extends IOException {
    private static final long serialVersionUID = 1L;

    UpstreamIdleTimeoutException() {
      super("no data from the upstream within the idle timeout");
    }
  }
}

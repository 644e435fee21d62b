package dev.creditgate.internal;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * Logs a warning at most once per interval and counts the ones it held back, so an outage that
 * fails every request open does not flood the log with one line per call.
 */
public final class ThrottledLog {

  private final Logger logger;
  private final long intervalNanos;
  private final AtomicLong nextAllowed = new AtomicLong(Long.MIN_VALUE);
  private final AtomicLong suppressed = new AtomicLong();

  public ThrottledLog(Logger logger, long intervalNanos) {
    this.logger = logger;
    this.intervalNanos = intervalNanos;
  }

  /** Logs {@code format} with {@code args} unless a line was logged less than an interval ago. */
  public void warn(long nowNanos, String format, Object... args) {
    long next = nextAllowed.get();
    if ((next != Long.MIN_VALUE && nowNanos - next < 0)
        || !nextAllowed.compareAndSet(next, nowNanos + intervalNanos)) {
      suppressed.incrementAndGet();
      return;
    }
    long held = suppressed.getAndSet(0);
    if (held > 0) {
      logger.warn(format + " (" + held + " similar warnings suppressed)", args);
    } else {
      logger.warn(format, args);
    }
  }
}

package dev.creditgate.ledger.jdbc;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small table read whole and kept in memory for callers on the hot path. Once the value in hand
 * is older than the refresh interval, one caller starts a read in the background and every caller
 * goes on with the value it has; only the very first use reads on the caller's thread. While the
 * database is away, the stale value serves. A write through this process {@link #invalidate}s it,
 * so the next use reads again at once. Its age is measured on a monotonic ticker (a wall clock
 * stepped back would stop the refresh, stepped forward would force one).
 */
final class RefreshingRead<T> {

  private static final Logger LOG = LoggerFactory.getLogger(RefreshingRead.class);

  private final String name;
  private final Supplier<T> read;
  private final LongSupplier nanoTicker;
  private final long refreshNanos;
  private final AtomicBoolean refreshing = new AtomicBoolean();
  private volatile T value;
  private volatile long loadedAtNanos;

  /**
   * @param name names the background thread and the log lines
   * @param read reads the whole value from the database (may throw LedgerUnavailableException)
   * @param nanoTicker a monotonic time in nanoseconds ({@code System::nanoTime})
   * @param refresh how old the value in hand may grow before a background read
   */
  RefreshingRead(
      String name, Supplier<T> read, LongSupplier nanoTicker, java.time.Duration refresh) {
    this.name = name;
    this.read = read;
    this.nanoTicker = nanoTicker;
    this.refreshNanos = refresh.toNanos();
  }

  /** Reads the value now (and keeps it). */
  T load() {
    T loaded = read.get();
    value = loaded;
    loadedAtNanos = nanoTicker.getAsLong();
    return loaded;
  }

  /** The value in hand, read first if there is none; starts a background refresh when stale. */
  T get() {
    T current = value;
    if (current == null) {
      return load();
    }
    if (nanoTicker.getAsLong() - loadedAtNanos >= refreshNanos
        && refreshing.compareAndSet(false, true)) {
      try {
        Thread.ofVirtual().name("creditgate-" + name).start(this::refresh);
      } catch (RuntimeException e) {
        refreshing.set(false);
      }
    }
    return current;
  }

  /** Drops the value in hand: the next {@link #get} reads it again. */
  void invalidate() {
    value = null;
  }

  private void refresh() {
    try {
      load();
    } catch (RuntimeException e) {
      // The value in hand keeps serving; the next use after the interval tries again.
      LOG.debug("{} not refreshed: {}", name, e.toString());
    } finally {
      refreshing.set(false);
    }
  }
}

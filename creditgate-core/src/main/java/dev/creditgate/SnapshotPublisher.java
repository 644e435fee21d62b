package dev.creditgate;

import static dev.creditgate.Checks.requirePositive;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.internal.ThrottledLog;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one writer of account states into a {@link CreditCache}: the guard's back-fills and blocked
 * markers and the ledger's committed states all go through it, so the rules for keeping the cache
 * coherent live in one place.
 *
 * <p>A state is written as a versioned snapshot plus the blocked marker that goes with it (set when
 * the snapshot cannot spend, cleared when it can). The first attempt is awaited within {@link
 * Builder#timeout} so that the next guard call sees the change; a failed attempt is retried in the
 * background with growing backoff, and when every attempt failed the account is invalidated, so the
 * next guard call reads the credit store instead of a stale state. Nothing here throws for a cache
 * failure: failures are counted ({@link #failures()}) and logged at most once a second.
 *
 * <p>Thread-safe; create one per cache and share it. {@link #close()} stops the retry thread.
 */
public final class SnapshotPublisher implements AutoCloseable {

  /** How long a published snapshot lives in the cache. */
  public static final Duration DEFAULT_SNAPSHOT_TTL = Duration.ofMinutes(10);

  /** How long a blocked marker lives in the cache. */
  public static final Duration DEFAULT_BLOCKED_TTL = Duration.ofMinutes(5);

  /** How long a publish waits for its first attempt; the same budget as a guard's cache call. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(50);

  /**
   * The wait before the first retry; each later retry waits four times longer (50, 200, 800 ms).
   */
  public static final Duration DEFAULT_RETRY_BACKOFF = Duration.ofMillis(50);

  /** Attempts per state, the first included, before the account is invalidated. */
  static final int ATTEMPTS = 4;

  private static final Logger LOG = LoggerFactory.getLogger(SnapshotPublisher.class);

  private final CreditCache cache;
  private final Duration snapshotTtl;
  private final Duration blockedTtl;
  private final long timeoutNanos;
  private final long retryBackoffNanos;
  private final Ticker ticker;
  private final ScheduledThreadPoolExecutor scheduler;
  private final AtomicLong failures = new AtomicLong();

  /**
   * A cache outage fails every account's update at once: one warning per second, not one per
   * account.
   */
  private final ThrottledLog warnings = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  private SnapshotPublisher(Builder b) {
    this.cache = b.cache;
    this.snapshotTtl = b.snapshotTtl;
    this.blockedTtl = b.blockedTtl;
    this.timeoutNanos = b.timeout.toNanos();
    this.retryBackoffNanos = b.retryBackoff.toNanos();
    this.ticker = b.ticker;
    this.scheduler =
        new ScheduledThreadPoolExecutor(
            1,
            runnable -> {
              Thread thread = new Thread(runnable, "creditgate-snapshot-retry");
              thread.setDaemon(true);
              return thread;
            });
    scheduler.setRemoveOnCancelPolicy(true);
    scheduler.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
  }

  /** A builder for a publisher writing into {@code cache}. */
  public static Builder builder(CreditCache cache) {
    return new Builder(cache);
  }

  /** The cache this publisher writes into. */
  public CreditCache cache() {
    return cache;
  }

  /**
   * Cache updates given up: every attempt failed (the account was then invalidated), or the update
   * came after {@link #close()}.
   */
  public long failures() {
    return failures.get();
  }

  /**
   * Writes the account's state and its blocked marker, waiting at most {@link Builder#timeout} for
   * the first attempt; a failure is retried in the background. Never throws for a cache failure.
   */
  public void publish(String accountId, CreditSnapshot snapshot) {
    Objects.requireNonNull(accountId, "accountId");
    Objects.requireNonNull(snapshot, "snapshot");
    if (dropIfClosed(accountId)) {
      return;
    }
    awaitFirstAttempt(accountId, snapshot, write(accountId, snapshot), timeoutNanos);
  }

  /**
   * Publishes the states of many accounts (a group commit's) at once: every write is sent before
   * any is awaited, so a batch costs about one round trip rather than one per account, and the wait
   * is bounded by one {@link Builder#timeout} for all. Failures are retried as in {@link #publish}.
   * Its shape fits a ledger's commit listener ({@code publisher::publishAll}).
   */
  public void publishAll(Map<String, CreditSnapshot> snapshots) {
    Objects.requireNonNull(snapshots, "snapshots");
    if (snapshots.isEmpty() || dropIfClosed(snapshots.size() + " accounts")) {
      return;
    }
    List<Map.Entry<String, CreditSnapshot>> accounts = new ArrayList<>(snapshots.entrySet());
    List<CompletableFuture<Void>> writes = new ArrayList<>(accounts.size());
    for (Map.Entry<String, CreditSnapshot> account : accounts) {
      writes.add(write(account.getKey(), account.getValue()));
    }
    long deadline = ticker.read() + timeoutNanos;
    for (int i = 0; i < accounts.size(); i++) {
      Map.Entry<String, CreditSnapshot> account = accounts.get(i);
      long left = Math.max(0, deadline - ticker.read());
      awaitFirstAttempt(account.getKey(), account.getValue(), writes.get(i), left);
    }
  }

  /**
   * Sets the account's blocked marker for snapshot {@code version} without waiting; a failure is
   * logged (at most once a second), not retried: the guard denies from the snapshot again and
   * writes the marker on its next call.
   */
  public void markBlocked(String accountId, long version) {
    Objects.requireNonNull(accountId, "accountId");
    if (dropIfClosed(accountId)) {
      return;
    }
    call(() -> cache.setBlocked(accountId, version, blockedTtl))
        .whenComplete(
            (ignored, error) -> {
              if (error != null) {
                warnings.warn(
                    ticker.read(),
                    "set blocked marker failed, account_id={} version={}: {}",
                    accountId,
                    version,
                    describe(error));
              }
            });
  }

  /** Stops the retry thread: retries not yet run are dropped, and later updates too. */
  @Override
  public void close() {
    scheduler.shutdownNow();
  }

  private boolean dropIfClosed(String what) {
    if (!scheduler.isShutdown()) {
      return false;
    }
    failures.incrementAndGet();
    warnings.warn(ticker.read(), "cache update dropped (publisher closed), account_id={}", what);
    return true;
  }

  private void awaitFirstAttempt(
      String accountId, CreditSnapshot snapshot, CompletableFuture<Void> write, long waitNanos) {
    try {
      // An in-process cache answers with a completed future: skip the timed wait.
      if (write.isDone()) {
        write.get();
      } else {
        write.get(waitNanos, TimeUnit.NANOSECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      retry(accountId, snapshot, 2, e);
    } catch (ExecutionException | TimeoutException | RuntimeException e) {
      retry(accountId, snapshot, 2, e);
    }
  }

  /**
   * Writes the snapshot (versioned) and the blocked marker that goes with it ({@link
   * CreditCache#putState}): one round trip on a remote cache.
   */
  private CompletableFuture<Void> write(String accountId, CreditSnapshot snapshot) {
    return call(() -> cache.putState(accountId, snapshot, snapshotTtl, blockedTtl))
        .thenApply(stored -> (Void) null)
        .orTimeout(timeoutNanos, TimeUnit.NANOSECONDS);
  }

  private void retry(String accountId, CreditSnapshot snapshot, int attempt, Throwable error) {
    if (attempt > ATTEMPTS) {
      failures.incrementAndGet();
      warnings.warn(
          ticker.read(),
          "cache update failed {} times, invalidating, account_id={} version={}: {}",
          ATTEMPTS,
          accountId,
          snapshot.version(),
          describe(error));
      call(() -> cache.invalidate(accountId))
          .whenComplete(
              (ignored, e) -> {
                if (e != null) {
                  warnings.warn(
                      ticker.read(),
                      "cache invalidate failed, account_id={}: {}",
                      accountId,
                      describe(e));
                }
              });
      return;
    }
    LOG.debug(
        "cache update attempt {} failed, account_id={}: {}",
        attempt - 1,
        accountId,
        describe(error));
    try {
      scheduler.schedule(
          () ->
              write(accountId, snapshot)
                  .whenComplete(
                      (ignored, e) -> {
                        if (e != null) {
                          retry(accountId, snapshot, attempt + 1, e);
                        }
                      }),
          backoffNanos(attempt),
          TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      failures.incrementAndGet();
      warnings.warn(
          ticker.read(), "cache update dropped (publisher closed), account_id={}", accountId);
    }
  }

  /**
   * The wait before {@code attempt} (2 for the first retry): the backoff, times four per retry
   * before.
   */
  private long backoffNanos(int attempt) {
    long factor = 1L << (2 * (attempt - 2));
    return retryBackoffNanos > Long.MAX_VALUE / factor
        ? Long.MAX_VALUE
        : retryBackoffNanos * factor;
  }

  /** Calls a cache method, turning a synchronous throw or a null future into a failed future. */
  private static <T> CompletableFuture<T> call(Supplier<CompletableFuture<T>> write) {
    try {
      CompletableFuture<T> future = write.get();
      return future == null
          ? CompletableFuture.failedFuture(new NullPointerException("cache returned a null future"))
          : future;
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private static String describe(Throwable t) {
    Throwable cause = t instanceof ExecutionException && t.getCause() != null ? t.getCause() : t;
    if (cause instanceof TimeoutException) {
      return "no answer in time";
    }
    return cause.getClass().getSimpleName()
        + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
  }

  /**
   * Options for a {@link SnapshotPublisher}; each setter validates its value and names it in the
   * error.
   */
  public static final class Builder {
    private final CreditCache cache;
    private Duration snapshotTtl = DEFAULT_SNAPSHOT_TTL;
    private Duration blockedTtl = DEFAULT_BLOCKED_TTL;
    private Duration timeout = DEFAULT_TIMEOUT;
    private Duration retryBackoff = DEFAULT_RETRY_BACKOFF;
    private Ticker ticker = Ticker.systemTicker();

    private Builder(CreditCache cache) {
      this.cache = Objects.requireNonNull(cache, "cache");
    }

    /** How long a published snapshot lives in the cache. */
    public Builder snapshotTtl(Duration ttl) {
      this.snapshotTtl = requirePositive("snapshotTtl", ttl);
      return this;
    }

    /** How long a blocked marker lives in the cache. */
    public Builder blockedTtl(Duration ttl) {
      this.blockedTtl = requirePositive("blockedTtl", ttl);
      return this;
    }

    /** How long each attempt may take, and how long a publish waits for its first one. */
    public Builder timeout(Duration timeout) {
      this.timeout = requirePositive("timeout", timeout);
      return this;
    }

    /** The wait before the first retry; each later retry waits four times longer. */
    public Builder retryBackoff(Duration backoff) {
      this.retryBackoff = requirePositive("retryBackoff", backoff);
      return this;
    }

    /** The time source for {@link #publishAll}'s shared deadline and for log throttling. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    public SnapshotPublisher build() {
      return new SnapshotPublisher(this);
    }
  }
}

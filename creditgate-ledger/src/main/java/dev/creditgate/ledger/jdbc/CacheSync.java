package dev.creditgate.ledger.jdbc;

import dev.creditgate.CreditCache;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.internal.ThrottledLog;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mirrors committed account states into the guard's cache. The first attempt is awaited (bounded)
 * so that the next guard call sees the change; failures are retried in the background with
 * backoff, then the account is invalidated; nothing here ever fails a ledger operation.
 */
final class CacheSync {

  private static final Logger LOG = LoggerFactory.getLogger(CacheSync.class);
  private static final int ATTEMPTS = 4;
  private static final long FIRST_BACKOFF_MILLIS = 50;

  private final CreditCache cache;
  private final Duration snapshotTtl;
  private final Duration blockedTtl;
  private final long timeoutNanos;
  private final ScheduledExecutorService scheduler;
  private final AtomicLong failures = new AtomicLong();
  /** A Redis outage fails every account's update at once: one warning per second, not one per account. */
  private final ThrottledLog warnings = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  CacheSync(CreditCache cache, Duration snapshotTtl, Duration blockedTtl, Duration timeout,
      ScheduledExecutorService scheduler) {
    this.cache = cache;
    this.snapshotTtl = snapshotTtl;
    this.blockedTtl = blockedTtl;
    this.timeoutNanos = timeout.toNanos();
    this.scheduler = scheduler;
  }

  long failures() {
    return failures.get();
  }

  /**
   * How long {@link #peek} waits for the cache: it sits on a request's path before the credit
   * check, and a cache that does not answer quickly is not read by the guard either (which then
   * fails open).
   */
  static final long PEEK_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  /**
   * The account's snapshot in the cache, as the guard would read it; null when there is no cache,
   * nothing cached, or the cache did not answer within {@link #PEEK_TIMEOUT_NANOS} (or its own
   * timeout, if shorter).
   */
  CreditSnapshot peek(String accountId) {
    if (cache == null) {
      return null;
    }
    try {
      long wait = Math.min(timeoutNanos, PEEK_TIMEOUT_NANOS);
      return cache.lookup(accountId).get(wait, TimeUnit.NANOSECONDS).snapshot();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (Exception e) {
      return null;
    }
  }

  void publish(String accountId, CreditSnapshot snapshot) {
    if (cache == null) {
      return;
    }
    try {
      write(accountId, snapshot).get(timeoutNanos, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      retry(accountId, snapshot, 2, e);
    } catch (Exception e) {
      retry(accountId, snapshot, 2, e);
    }
  }

  /**
   * Publishes the states of many accounts (a group commit's) at once: every write is sent before
   * any is awaited, so a batch costs about one round trip rather than one per account, and the
   * wait is bounded by one timeout for all. Failures are retried in the background as in
   * {@link #publish}.
   */
  void publishAll(java.util.Map<String, CreditSnapshot> snapshots) {
    if (cache == null || snapshots.isEmpty()) {
      return;
    }
    if (snapshots.size() == 1) {
      var only = snapshots.entrySet().iterator().next();
      publish(only.getKey(), only.getValue());
      return;
    }
    java.util.List<java.util.Map.Entry<String, CreditSnapshot>> accounts = new java.util.ArrayList<>(snapshots.entrySet());
    java.util.List<CompletableFuture<Void>> writes = new java.util.ArrayList<>(accounts.size());
    for (var account : accounts) {
      writes.add(write(account.getKey(), account.getValue()));
    }
    long deadline = System.nanoTime() + timeoutNanos;
    for (int i = 0; i < accounts.size(); i++) {
      var account = accounts.get(i);
      try {
        writes.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        retry(account.getKey(), account.getValue(), 2, e);
      } catch (Exception e) {
        retry(account.getKey(), account.getValue(), 2, e);
      }
    }
  }

  /**
   * Writes the snapshot (versioned) and the blocked marker that goes with it. Both leave at once:
   * one round trip instead of two, and on one connection Redis still runs them in that order. The
   * marker is written even when a newer snapshot is cached: markers carry their version, so an
   * older one never overrides a newer snapshot, and a retry after a failed marker write still lands.
   */
  private CompletableFuture<Void> write(String accountId, CreditSnapshot snapshot) {
    CompletableFuture<Boolean> put = call(() -> cache.putSnapshot(accountId, snapshot, snapshotTtl));
    CompletableFuture<Void> marker = snapshot.canSpend()
        ? call(() -> cache.clearBlocked(accountId))
        : call(() -> cache.setBlocked(accountId, snapshot.version(), blockedTtl));
    return CompletableFuture.allOf(put, marker).orTimeout(timeoutNanos, TimeUnit.NANOSECONDS);
  }

  private void retry(String accountId, CreditSnapshot snapshot, int attempt, Throwable error) {
    if (attempt > ATTEMPTS) {
      failures.incrementAndGet();
      warnings.warn(System.nanoTime(), "ledger cache update failed {} times, invalidating, account_id={} version={}: {}",
          ATTEMPTS, accountId, snapshot.version(), describe(error));
      call(() -> cache.invalidate(accountId)).whenComplete((ignored, e) -> {
        if (e != null) {
          warnings.warn(System.nanoTime(), "ledger cache invalidate failed, account_id={}: {}", accountId, describe(e));
        }
      });
      return;
    }
    LOG.debug("ledger cache update attempt {} failed, account_id={}: {}", attempt - 1, accountId, describe(error));
    long delay = FIRST_BACKOFF_MILLIS << (2 * (attempt - 2));
    try {
      scheduler.schedule(() -> write(accountId, snapshot).whenComplete((ignored, e) -> {
        if (e != null) {
          retry(accountId, snapshot, attempt + 1, e);
        }
      }), delay, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      failures.incrementAndGet();
      warnings.warn(System.nanoTime(), "ledger cache update dropped (ledger closing), account_id={}", accountId);
    }
  }

  private static <T> CompletableFuture<T> call(java.util.function.Supplier<CompletableFuture<T>> write) {
    try {
      CompletableFuture<T> future = write.get();
      return future == null ? CompletableFuture.failedFuture(new NullPointerException("cache returned a null future"))
          : future;
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private static String describe(Throwable t) {
    Throwable cause = t instanceof java.util.concurrent.ExecutionException && t.getCause() != null ? t.getCause() : t;
    if (cause instanceof java.util.concurrent.TimeoutException) {
      return "no answer in time";
    }
    return cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
  }
}

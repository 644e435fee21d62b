package dev.creditgate.redis;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Runs each Redis command under the circuit breaker and the time budget, and counts the outcomes.
 * The open breaker fails a call at once, without touching the network; a call with no answer within
 * the budget fails with {@link RedisCacheException}, and so does any other failure, with Lettuce's
 * exception as the cause. Closing it fails the calls still pending at once.
 */
final class BoundedCalls implements AutoCloseable {

  private final CircuitBreaker breaker;
  private final long timeoutNanos;
  private final Deadlines deadlines;
  private final LongAdder calls = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final LongAdder timeouts = new LongAdder();
  private final LongAdder rejected = new LongAdder();

  BoundedCalls(CircuitBreaker breaker, long timeoutNanos, String threadName) {
    this.breaker = breaker;
    this.timeoutNanos = timeoutNanos;
    this.deadlines = new Deadlines(timeoutNanos, threadName);
  }

  /**
   * Runs one Redis command. The caller sees a copy of Lettuce's future, so the budget fails the
   * caller's view without completing Lettuce's command (Lettuce's own timeouts do not bound async
   * calls).
   */
  <T> CompletableFuture<T> run(
      String operation, String account, Supplier<CompletionStage<T>> command) {
    if (!breaker.tryAcquirePermission()) {
      rejected.increment();
      return CompletableFuture.failedFuture(
          RedisCacheException.withoutStackTrace(
              "redis " + operation + " not attempted: circuit breaker is " + breaker.getState()));
    }
    calls.increment();
    long start = System.nanoTime();
    CompletableFuture<T> timed = new CompletableFuture<>();
    try {
      command
          .get()
          .whenComplete(
              (value, error) -> {
                if (error == null) {
                  timed.complete(value);
                } else {
                  timed.completeExceptionally(error);
                }
              });
    } catch (RuntimeException e) {
      timed.completeExceptionally(e);
    }
    deadlines.bound(timed);
    CompletableFuture<T> result = new CompletableFuture<>();
    timed.whenComplete(
        (value, error) -> {
          long took = System.nanoTime() - start;
          if (error == null) {
            breaker.onSuccess(took, TimeUnit.NANOSECONDS);
            result.complete(value);
            return;
          }
          Throwable cause = unwrap(error);
          breaker.onError(took, TimeUnit.NANOSECONDS, cause);
          failures.increment();
          if (cause instanceof TimeoutException) {
            timeouts.increment();
            result.completeExceptionally(
                new RedisCacheException(
                    "redis "
                        + operation
                        + " for account "
                        + account
                        + " got no answer within "
                        + TimeUnit.NANOSECONDS.toMillis(timeoutNanos)
                        + " ms",
                    cause));
          } else {
            result.completeExceptionally(
                new RedisCacheException(
                    "redis "
                        + operation
                        + " for account "
                        + account
                        + " failed: "
                        + cause.getClass().getSimpleName()
                        + ": "
                        + cause.getMessage(),
                    cause));
          }
        });
    return result;
  }

  /** The failure inside the wrappers that futures put around it. */
  static Throwable unwrap(Throwable error) {
    while ((error instanceof CompletionException || error instanceof ExecutionException)
        && error.getCause() != null) {
      error = error.getCause();
    }
    return error;
  }

  CircuitBreaker breaker() {
    return breaker;
  }

  /** Counters since the cache was built, with the near cache's when it has one. */
  RedisCacheStats stats(NearCache near) {
    return new RedisCacheStats(
        breaker.getState(),
        calls.sum(),
        failures.sum(),
        timeouts.sum(),
        rejected.sum(),
        near == null ? 0 : near.hits(),
        near == null ? 0 : near.misses(),
        near == null ? 0 : near.invalidations(),
        near == null ? 0 : near.subscriptionDrops());
  }

  /** Stops the deadline thread; calls still pending fail at once. */
  @Override
  public void close() {
    deadlines.close();
  }
}

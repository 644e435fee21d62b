package dev.creditgate.gateway.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;

/**
 * Failed authentications per client address, as a token bucket each: an address may fail {@code
 * failures} times at once and then once per {@code window / failures}. An attempt that may need a
 * key read is let through while its address has a token, and only a failure takes one, so a burst
 * of calls with a valid key is never refused however many arrive at once. Failures that arrive
 * together past the last token still take theirs, as a debt of at most a full bucket, so that
 * concurrent guesses are paid for by a longer wait; an address without a token costs the database
 * nothing. At most {@link #MAX_ADDRESSES} buckets are kept, and a bucket untouched for two windows
 * (full again by then) is dropped, so memory is bounded whatever the number of addresses.
 */
final class FailedAuthLimiter {

  /** Buckets kept at most (about 200 bytes each); the least recently used go first. */
  static final long MAX_ADDRESSES = 100_000;

  private final int failures;
  private final long nanosPerToken;
  private final Ticker ticker;

  /** Null when the limit is off. */
  private final Cache<String, Bucket> buckets;

  /**
   * @param failures the failures an address may have at once; 0 turns the limit off
   * @param window the time in which an address earns them all back
   */
  FailedAuthLimiter(int failures, Duration window, Ticker ticker) {
    this.failures = failures;
    this.nanosPerToken = failures == 0 ? 0 : Math.max(1, window.toNanos() / failures);
    this.ticker = ticker;
    this.buckets =
        failures == 0
            ? null
            : Caffeine.newBuilder()
                .maximumSize(MAX_ADDRESSES)
                .expireAfterAccess(window.multipliedBy(2))
                .ticker(ticker)
                .build();
  }

  /** 0 when {@code address} may try now, else the seconds until it may (at least 1). */
  long waitSeconds(String address) {
    if (buckets == null) {
      return 0;
    }
    Bucket b = buckets.getIfPresent(address);
    return b == null ? 0 : b.waitSeconds(ticker.read());
  }

  /** Takes a token for a failed authentication from {@code address}. */
  void failed(String address) {
    if (buckets == null) {
      return;
    }
    long now = ticker.read();
    buckets.get(address, a -> new Bucket(now)).take(now);
  }

  /**
   * The tokens as nanos of refill: full is {@code failures * nanosPerToken}, a token costs {@code
   * nanosPerToken}, down to a debt of a full bucket.
   */
  private final class Bucket {
    private long credit;
    private long at;

    Bucket(long now) {
      this.credit = full();
      this.at = now;
    }

    private long full() {
      return failures * nanosPerToken;
    }

    synchronized long waitSeconds(long now) {
      refill(now);
      if (credit >= nanosPerToken) {
        return 0;
      }
      long waitNanos = nanosPerToken - credit;
      return Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
    }

    synchronized void take(long now) {
      refill(now);
      credit = Math.max(-full(), credit - nanosPerToken);
    }

    private void refill(long now) {
      long elapsed = now - at;
      at = now;
      if (elapsed > 0) {
        credit = elapsed >= full() - credit ? full() : credit + elapsed;
      }
    }
  }
}

package dev.creditgate.gateway.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;

/**
 * Failed authentications per client address, as a token bucket each: an address may fail {@code
 * failures} times at once and then once per {@code window / failures}. An attempt that may need a
 * key read takes a token first and gives it back when the key was valid, so an address out of
 * tokens costs the database nothing. At most {@link #MAX_ADDRESSES} buckets are kept, and a bucket
 * untouched for a window (full again by then) is dropped, so memory is bounded whatever the number
 * of addresses.
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
                .expireAfterAccess(window)
                .ticker(ticker)
                .build();
  }

  /**
   * Takes a token for {@code address}: 0 when it had one, else the seconds until it has (at least
   * 1).
   */
  long take(String address) {
    if (buckets == null) {
      return 0;
    }
    return buckets.get(address, a -> new Bucket(failures, ticker.read())).take(ticker.read());
  }

  /** Gives back the token an attempt that did not fail took. */
  void giveBack(String address) {
    if (buckets == null) {
      return;
    }
    Bucket b = buckets.getIfPresent(address);
    if (b != null) {
      b.giveBack();
    }
  }

  /** Tokens in nanos of refill: full is {@code failures * nanosPerToken}. */
  private final class Bucket {
    private long credit;
    private long at;

    Bucket(int tokens, long now) {
      this.credit = tokens * nanosPerToken;
      this.at = now;
    }

    synchronized long take(long now) {
      refill(now);
      if (credit >= nanosPerToken) {
        credit -= nanosPerToken;
        return 0;
      }
      long waitNanos = nanosPerToken - credit;
      return Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
    }

    synchronized void giveBack() {
      credit = Math.min(failures * nanosPerToken, credit + nanosPerToken);
    }

    private void refill(long now) {
      long elapsed = now - at;
      at = now;
      if (elapsed > 0) {
        long full = failures * nanosPerToken;
        credit = elapsed >= full - credit ? full : credit + elapsed;
      }
    }
  }
}

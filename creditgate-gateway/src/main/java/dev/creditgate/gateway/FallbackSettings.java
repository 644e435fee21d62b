package dev.creditgate.gateway;

import java.time.Duration;

/**
 * How a call moves to an alias's next upstream when one fails before answering (connection refused
 * or failed, no response headers within the first-byte timeout, HTTP 429 or 5xx), and how long a
 * failing upstream is left alone. A stream that has begun is never moved; a failed attempt is not
 * charged.
 *
 * @param maxAttempts the most upstreams one call tries
 * @param deadline no further upstream is tried once the call has run this long
 * @param cooldown how long an upstream whose recent calls mostly failed is skipped (its circuit
 *     breaker is open), before a trial call is let through
 */
public record FallbackSettings(int maxAttempts, Duration deadline, Duration cooldown) {

  public static final int DEFAULT_MAX_ATTEMPTS = 3;
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(30);
  public static final Duration DEFAULT_COOLDOWN = Duration.ofSeconds(30);

  public static final FallbackSettings DEFAULTS =
      new FallbackSettings(DEFAULT_MAX_ATTEMPTS, DEFAULT_DEADLINE, DEFAULT_COOLDOWN);

  public FallbackSettings {
    if (maxAttempts < 1 || maxAttempts > ModelRoute.MAX_UPSTREAMS) {
      throw new IllegalArgumentException(
          "maxAttempts must be between 1 and "
              + ModelRoute.MAX_UPSTREAMS
              + ", but was "
              + maxAttempts);
    }
    if (deadline.isNegative() || cooldown.isNegative() || cooldown.isZero()) {
      throw new IllegalArgumentException(
          "deadline must not be negative and cooldown must be positive");
    }
  }

  static FallbackSettings read(ConfigReader r) {
    return new FallbackSettings(
        (int) r.longIn("upstream.max-attempts", DEFAULT_MAX_ATTEMPTS, 1, ModelRoute.MAX_UPSTREAMS),
        r.duration("upstream.fallback-deadline", DEFAULT_DEADLINE),
        r.duration("upstream.cooldown", DEFAULT_COOLDOWN));
  }
}

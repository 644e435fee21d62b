package dev.creditgate.gateway;

/**
 * Limits that keep one caller from taking what the others need: how many calls a key and an account
 * may have in flight at once ({@code limits.*}). Zero turns a limit off.
 *
 * @param maxConcurrentPerKey calls in flight at once per user key
 * @param maxConcurrentPerServiceKey calls in flight at once per service key (a service key names
 *     the account of each call, and each of those accounts is limited too)
 * @param maxConcurrentPerAccount calls in flight at once per account, whichever keys they came with
 */
public record GatewayLimits(
    int maxConcurrentPerKey, int maxConcurrentPerServiceKey, int maxConcurrentPerAccount) {

  /**
   * Calls in flight per user key: above what one person or one batch job runs, far below the
   * upstream client's 4,096 connections per upstream host.
   */
  public static final int DEFAULT_MAX_CONCURRENT_PER_KEY = 64;

  /** No limit per service key: the operator's backend, limited per account it names. */
  public static final int DEFAULT_MAX_CONCURRENT_PER_SERVICE_KEY = 0;

  /**
   * Calls in flight per account: 32 accounts at their limit would fill an upstream's connections.
   */
  public static final int DEFAULT_MAX_CONCURRENT_PER_ACCOUNT = 128;

  static final int MAX_CONCURRENT = 1_000_000;

  public GatewayLimits {
    requireIn("maxConcurrentPerKey", maxConcurrentPerKey);
    requireIn("maxConcurrentPerServiceKey", maxConcurrentPerServiceKey);
    requireIn("maxConcurrentPerAccount", maxConcurrentPerAccount);
  }

  /** The defaults. */
  public static GatewayLimits defaults() {
    return new GatewayLimits(
        DEFAULT_MAX_CONCURRENT_PER_KEY,
        DEFAULT_MAX_CONCURRENT_PER_SERVICE_KEY,
        DEFAULT_MAX_CONCURRENT_PER_ACCOUNT);
  }

  static GatewayLimits read(ConfigReader r) {
    return new GatewayLimits(
        (int)
            r.longIn(
                "limits.max-concurrent-per-key", DEFAULT_MAX_CONCURRENT_PER_KEY, 0, MAX_CONCURRENT),
        (int)
            r.longIn(
                "limits.max-concurrent-per-service-key",
                DEFAULT_MAX_CONCURRENT_PER_SERVICE_KEY,
                0,
                MAX_CONCURRENT),
        (int)
            r.longIn(
                "limits.max-concurrent-per-account",
                DEFAULT_MAX_CONCURRENT_PER_ACCOUNT,
                0,
                MAX_CONCURRENT));
  }

  private static void requireIn(String name, int value) {
    if (value < 0 || value > MAX_CONCURRENT) {
      throw new IllegalArgumentException(
          name + " must be between 0 (no limit) and " + MAX_CONCURRENT + ", but was " + value);
    }
  }
}

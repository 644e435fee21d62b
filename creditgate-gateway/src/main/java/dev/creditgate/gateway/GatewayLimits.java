package dev.creditgate.gateway;

import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Limits that keep one caller from taking what the others need ({@code limits.*}): how many calls a
 * key and an account may have in flight at once, and how many failed authentications a client
 * address may have before it must wait. Zero turns a limit off.
 *
 * @param maxConcurrentPerKey calls in flight at once per user key
 * @param maxConcurrentPerServiceKey calls in flight at once per service key (a service key names
 *     the account of each call, and each of those accounts is limited too)
 * @param maxConcurrentPerAccount calls in flight at once per account, whichever keys they came with
 * @param authFailuresPerAddress failed authentications a client address may have at once; it earns
 *     them back over {@code authFailureWindow}
 * @param authFailureWindow the time in which an address earns all its failures back
 * @param clientAddressHeader the header a reverse proxy names the client in ({@code
 *     X-Forwarded-For}: its last value); empty: the socket's peer is the client
 */
public record GatewayLimits(
    int maxConcurrentPerKey,
    int maxConcurrentPerServiceKey,
    int maxConcurrentPerAccount,
    int authFailuresPerAddress,
    Duration authFailureWindow,
    String clientAddressHeader) {

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

  /**
   * Failed authentications per client address at once: a client with a wrong key sees its 401s long
   * before, and an address guessing keys is held to one key-table read every 3 s.
   */
  public static final int DEFAULT_AUTH_FAILURES_PER_ADDRESS = 20;

  public static final Duration DEFAULT_AUTH_FAILURE_WINDOW = Duration.ofMinutes(1);

  static final int MAX_CONCURRENT = 1_000_000;
  static final int MAX_AUTH_FAILURES = 1_000_000;
  static final Duration MIN_WINDOW = Duration.ofSeconds(1);
  static final Duration MAX_WINDOW = Duration.ofDays(1);
  private static final Pattern HEADER_NAME = Pattern.compile("[A-Za-z0-9-]{1,64}");

  /**
   * @throws IllegalArgumentException naming the bad value
   */
  public GatewayLimits {
    requireIn("maxConcurrentPerKey", maxConcurrentPerKey, MAX_CONCURRENT);
    requireIn("maxConcurrentPerServiceKey", maxConcurrentPerServiceKey, MAX_CONCURRENT);
    requireIn("maxConcurrentPerAccount", maxConcurrentPerAccount, MAX_CONCURRENT);
    requireIn("authFailuresPerAddress", authFailuresPerAddress, MAX_AUTH_FAILURES);
    Objects.requireNonNull(authFailureWindow, "authFailureWindow");
    if (authFailureWindow.compareTo(MIN_WINDOW) < 0
        || authFailureWindow.compareTo(MAX_WINDOW) > 0) {
      throw new IllegalArgumentException(
          "authFailureWindow must be between 1s and 1d, but was " + authFailureWindow);
    }
    clientAddressHeader = Objects.requireNonNullElse(clientAddressHeader, "").trim();
    if (!clientAddressHeader.isEmpty() && !HEADER_NAME.matcher(clientAddressHeader).matches()) {
      throw new IllegalArgumentException(
          "clientAddressHeader must be a header name (1-64 of [A-Za-z0-9-]), but was '"
              + clientAddressHeader
              + "'");
    }
  }

  /** These concurrency limits, with the default failed-authentication limits. */
  public GatewayLimits(
      int maxConcurrentPerKey, int maxConcurrentPerServiceKey, int maxConcurrentPerAccount) {
    this(
        maxConcurrentPerKey,
        maxConcurrentPerServiceKey,
        maxConcurrentPerAccount,
        DEFAULT_AUTH_FAILURES_PER_ADDRESS,
        DEFAULT_AUTH_FAILURE_WINDOW,
        "");
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
                MAX_CONCURRENT),
        (int)
            r.longIn(
                "limits.auth-failures-per-address",
                DEFAULT_AUTH_FAILURES_PER_ADDRESS,
                0,
                MAX_AUTH_FAILURES),
        window(r.duration("limits.auth-failure-window", DEFAULT_AUTH_FAILURE_WINDOW)),
        header(r.string("limits.client-address-header", "")));
  }

  private static Duration window(Duration window) {
    if (window.compareTo(MIN_WINDOW) < 0 || window.compareTo(MAX_WINDOW) > 0) {
      throw new ConfigException(
          "limits.auth-failure-window must be between 1s and 1d, but was "
              + window.toMillis()
              + "ms");
    }
    return window;
  }

  private static String header(String name) {
    if (!name.isEmpty() && !HEADER_NAME.matcher(name).matches()) {
      throw new ConfigException(
          "limits.client-address-header must be a header name (1-64 of [A-Za-z0-9-]), but was '"
              + name
              + "'");
    }
    return name;
  }

  private static void requireIn(String name, int value, int max) {
    if (value < 0 || value > max) {
      throw new IllegalArgumentException(
          name + " must be between 0 (no limit) and " + max + ", but was " + value);
    }
  }
}

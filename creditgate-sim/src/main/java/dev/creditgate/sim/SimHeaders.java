package dev.creditgate.sim;

import com.sun.net.httpserver.HttpExchange;
import java.util.concurrent.TimeUnit;

/**
 * The {@code X-Sim-*} request headers that shape one answer. A bad value is a 400 naming the
 * header; a header that means nothing to an endpoint is checked and ignored.
 *
 * @param noUsage {@code X-Sim-No-Usage: true}: report no usage
 * @param failStatus {@code X-Sim-Fail}: answer with this status, 0 when absent
 * @param latencyNanos {@code X-Sim-Latency-Ms} in nanoseconds, -1 when absent
 * @param cachedTokens {@code X-Sim-Cached-Tokens}, -1 when absent
 * @param reasoningTokens {@code X-Sim-Reasoning-Tokens}, 0 when absent
 * @param abortAfterChunks {@code X-Sim-Abort-After-Chunks}, -1 when absent
 * @param cacheCreationTokens {@code X-Sim-Cache-Creation-Tokens}, 0 when absent
 */
record SimHeaders(
    boolean noUsage,
    int failStatus,
    long latencyNanos,
    int cachedTokens,
    int reasoningTokens,
    int abortAfterChunks,
    int cacheCreationTokens) {

  static final String FAIL = "X-Sim-Fail";
  static final String NO_USAGE = "X-Sim-No-Usage";
  static final String LATENCY = "X-Sim-Latency-Ms";
  static final String CACHED = "X-Sim-Cached-Tokens";
  static final String CACHE_CREATION = "X-Sim-Cache-Creation-Tokens";
  static final String REASONING = "X-Sim-Reasoning-Tokens";
  static final String ABORT = "X-Sim-Abort-After-Chunks";

  private static final long MAX_LATENCY_MS = TimeUnit.MINUTES.toMillis(10);
  private static final long MAX_REASONING = 1_000_000;

  static SimHeaders parse(HttpExchange ex) throws BadRequest {
    boolean noUsage = "true".equalsIgnoreCase(value(ex, NO_USAGE));
    int fail = (int) number(ex, FAIL, Fault.MIN_STATUS, Fault.MAX_STATUS, 0);
    long latencyMs = number(ex, LATENCY, 0, MAX_LATENCY_MS, -1);
    long latency = latencyMs < 0 ? -1 : TimeUnit.MILLISECONDS.toNanos(latencyMs);
    int cached = (int) number(ex, CACHED, 0, Integer.MAX_VALUE, -1);
    int reasoning = (int) number(ex, REASONING, 0, MAX_REASONING, 0);
    int abort = (int) number(ex, ABORT, 0, Integer.MAX_VALUE, -1);
    int cacheCreation = (int) number(ex, CACHE_CREATION, 0, Integer.MAX_VALUE, 0);
    return new SimHeaders(noUsage, fail, latency, cached, reasoning, abort, cacheCreation);
  }

  /** The latency for this request: the header's, else the configured one. */
  long latencyOr(long configuredNanos) {
    return latencyNanos >= 0 ? latencyNanos : configuredNanos;
  }

  /** An integer header in [min, max], or {@code absent} when the header is not sent. */
  private static long number(HttpExchange ex, String name, long min, long max, long absent)
      throws BadRequest {
    String value = value(ex, name);
    if (value == null) {
      return absent;
    }
    long parsed;
    try {
      parsed = Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new BadRequest(
          "header " + name + " must be an integer, but was '" + value + "'",
          null,
          "invalid_header");
    }
    if (parsed < min || parsed > max) {
      throw new BadRequest(
          "header " + name + " must be between " + min + " and " + max + ", but was " + parsed,
          null,
          "invalid_header");
    }
    return parsed;
  }

  private static String value(HttpExchange ex, String name) {
    String value = ex.getRequestHeaders().getFirst(name);
    return value == null ? null : value.strip();
  }
}

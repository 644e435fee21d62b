package dev.creditgate.gateway.internal;

import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.GatewayLimits;
import dev.creditgate.gateway.internal.Authenticator.Principal;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The calls each API key and each account has in flight, and their limits ({@link GatewayLimits}):
 * a call past either is refused with 429 {@code too_many_concurrent_requests} and {@code
 * Retry-After}, before it is metered or sent, so one account cannot take every upstream connection.
 * Only keys and accounts with calls in flight are tracked (an entry goes with its last call), so
 * memory follows the calls in flight and nothing else. The counts are this process's: each gateway
 * of a fleet limits its own calls.
 */
final class CallSlots {

  /** Seconds a refused caller is told to wait: calls end all the time. */
  static final long RETRY_AFTER_SECONDS = 1;

  private final GatewayLimits limits;
  private final GatewayMetrics metrics;
  private final ConcurrentHashMap<String, Integer> byKey = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Integer> byAccount = new ConcurrentHashMap<>();
  private final AtomicInteger keySlots = new AtomicInteger();
  private final AtomicInteger accountSlots = new AtomicInteger();

  CallSlots(GatewayLimits limits, GatewayMetrics metrics) {
    this.limits = limits;
    this.metrics = metrics;
  }

  /** A call's place under its key's and its account's limits; {@link #close} gives it back once. */
  final class Slot implements AutoCloseable {
    private final String keyId;
    private final String accountId;
    private final AtomicBoolean released = new AtomicBoolean();

    private Slot(String keyId, String accountId) {
      this.keyId = keyId;
      this.accountId = accountId;
    }

    /** Gives the slot back; only the first call does anything. */
    @Override
    public void close() {
      if (released.compareAndSet(false, true)) {
        give(byAccount, accountSlots, accountId);
        give(byKey, keySlots, keyId);
      }
    }
  }

  /**
   * Takes a slot for the caller's call.
   *
   * @throws ApiError 429 when the key or the account has as many calls in flight as it may
   */
  Slot acquire(Principal caller) {
    ApiKey key = caller.key();
    int keyLimit =
        key.kind() == ApiKey.Kind.SERVICE
            ? limits.maxConcurrentPerServiceKey()
            : limits.maxConcurrentPerKey();
    if (!take(byKey, keySlots, key.id(), keyLimit)) {
      metrics.callRefusedForConcurrency("key");
      throw tooMany(
          "this API key already has "
              + keyLimit
              + " calls in flight, the most it may have at once; retry when one has ended");
    }
    String account = caller.accountId();
    int accountLimit = limits.maxConcurrentPerAccount();
    if (!take(byAccount, accountSlots, account, accountLimit)) {
      give(byKey, keySlots, key.id());
      metrics.callRefusedForConcurrency("account");
      throw tooMany(
          "account '"
              + account
              + "' already has "
              + accountLimit
              + " calls in flight, the most it may have at once; retry when one has ended");
    }
    return new Slot(key.id(), account);
  }

  /** Slots held now, for {@code scope} {@code key} or {@code account}. */
  int held(String scope) {
    return "key".equals(scope) ? keySlots.get() : accountSlots.get();
  }

  private static ApiError tooMany(String message) {
    return new ApiError(429, "rate_limit_error", "too_many_concurrent_requests", message)
        .withRetryAfter(RETRY_AFTER_SECONDS);
  }

  /** One more call for {@code id}, unless it has {@code limit} (0: no limit) already. */
  private static boolean take(
      ConcurrentHashMap<String, Integer> counts, AtomicInteger total, String id, int limit) {
    int max = limit == 0 ? Integer.MAX_VALUE : limit;
    boolean[] taken = {false};
    counts.compute(
        id,
        (k, n) -> {
          int now = n == null ? 0 : n;
          if (now >= max) {
            return n;
          }
          taken[0] = true;
          return now + 1;
        });
    if (taken[0]) {
      total.incrementAndGet();
    }
    return taken[0];
  }

  private static void give(
      ConcurrentHashMap<String, Integer> counts, AtomicInteger total, String id) {
    boolean[] given = {false};
    counts.computeIfPresent(
        id,
        (k, n) -> {
          given[0] = true;
          return n <= 1 ? null : n - 1;
        });
    if (given[0]) {
      total.decrementAndGet();
    }
  }
}

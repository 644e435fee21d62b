package dev.creditgate.redis;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.time.Duration;

/**
 * The options of one {@link RedisCreditCache}, as {@link RedisCreditCacheBuilder} validated them;
 * each one's default is the named constant in {@link RedisCreditCache}.
 *
 * @param breakerConfig the caller's breaker settings, or null for the defaults with {@code
 *     breakerOpenDuration}
 */
record RedisCacheOptions(
    String keyPrefix,
    Duration timeout,
    CircuitBreakerConfig breakerConfig,
    Duration breakerOpenDuration,
    boolean nearCache,
    Duration nearCacheTtl,
    long nearCacheMaximumSize,
    Ticker ticker,
    boolean lookupBatching,
    int lookupBatchMaxAccounts,
    int lookupBatchesInFlight) {

  RedisKeys keys() {
    return new RedisKeys(keyPrefix);
  }

  /** The breaker that guards Redis: the caller's settings, or the named defaults. */
  CircuitBreaker circuitBreaker() {
    return CircuitBreaker.of(
        "creditgate-redis:" + keyPrefix,
        breakerConfig != null
            ? breakerConfig
            : CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(RedisCreditCache.DEFAULT_BREAKER_WINDOW)
                .minimumNumberOfCalls(RedisCreditCache.DEFAULT_BREAKER_MINIMUM_CALLS)
                .failureRateThreshold(RedisCreditCache.DEFAULT_BREAKER_FAILURE_RATE)
                .waitDurationInOpenState(breakerOpenDuration)
                .permittedNumberOfCallsInHalfOpenState(3)
                .build());
  }

  /**
   * Accounts one coalesced MGET reads at most, or 0 for one MGET per lookup. On a cluster the
   * accounts of a batch hash to different slots: Lettuce would split the MGET into one command per
   * slot again, so each lookup stays its own MGET there.
   */
  int batchAccounts(boolean cluster) {
    return lookupBatching && !cluster ? lookupBatchMaxAccounts : 0;
  }
}

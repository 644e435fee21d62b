package dev.creditgate.redis;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;

/**
 * Counters of one {@link RedisCreditCache} since it was built, for metrics. Each read is a
 * consistent-enough snapshot of independent counters, not an atomic view.
 *
 * @param breakerState the circuit breaker's state now
 * @param calls commands sent to Redis (the breaker permitted them)
 * @param failures of those, the ones that failed or timed out
 * @param timeouts of the failures, the ones with no answer within the time budget
 * @param rejected calls the open breaker refused without touching the network
 * @param nearHits lookups answered by the near cache
 * @param nearMisses lookups the near cache (when enabled) passed on to Redis
 * @param nearInvalidations invalidation messages received from the channel
 * @param nearSubscriptionDrops times the invalidation subscription dropped (the near cache then
 *     empties and stops serving until it is subscribed again)
 */
public record RedisCacheStats(
    CircuitBreaker.State breakerState,
    long calls,
    long failures,
    long timeouts,
    long rejected,
    long nearHits,
    long nearMisses,
    long nearInvalidations,
    long nearSubscriptionDrops) {}

package dev.creditgate.redis;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.Checks;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Options for a {@link RedisCreditCache}, from {@link RedisCreditCache#builder}. Every option has a
 * named default (the {@code DEFAULT_} constants of {@link RedisCreditCache}); each setter validates
 * its value and names it in the error.
 */
public final class RedisCreditCacheBuilder {

  private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9._:@-]{1,64}");

  private final RedisURI uri;
  private final RedisClient client;
  private final RedisClusterClient clusterClient;
  private final StatefulRedisConnection<String, String> connection;
  private final StatefulRedisClusterConnection<String, String> clusterConnection;
  private String keyPrefix = RedisCreditCache.DEFAULT_KEY_PREFIX;
  private Duration timeout = RedisCreditCache.DEFAULT_TIMEOUT;
  private CircuitBreakerConfig breakerConfig;
  private Duration breakerOpenDuration = RedisCreditCache.DEFAULT_BREAKER_OPEN_DURATION;
  private boolean nearCache;
  private Duration nearCacheTtl = RedisCreditCache.DEFAULT_NEAR_CACHE_TTL;
  private long nearCacheMaximumSize = RedisCreditCache.DEFAULT_NEAR_CACHE_MAXIMUM_SIZE;
  private Ticker ticker = Ticker.systemTicker();
  private boolean lookupBatching = RedisCreditCache.DEFAULT_LOOKUP_BATCHING;
  private int lookupBatchMaxAccounts = RedisCreditCache.DEFAULT_LOOKUP_BATCH_MAX_ACCOUNTS;
  private int lookupBatchesInFlight = RedisCreditCache.DEFAULT_LOOKUP_BATCHES_IN_FLIGHT;

  /** Exactly one of the five is not null: what the cache reaches Redis through. */
  RedisCreditCacheBuilder(
      RedisURI uri,
      RedisClient client,
      RedisClusterClient clusterClient,
      StatefulRedisConnection<String, String> connection,
      StatefulRedisClusterConnection<String, String> clusterConnection) {
    this.uri = uri;
    this.client = client;
    this.clusterClient = clusterClient;
    this.connection = connection;
    this.clusterConnection = clusterConnection;
  }

  /**
   * The first part of every key and of the invalidation channel; {@code [A-Za-z0-9._:@-]}, 1-64
   * chars.
   */
  public RedisCreditCacheBuilder keyPrefix(String keyPrefix) {
    if (keyPrefix == null || !PREFIX.matcher(keyPrefix).matches()) {
      throw new IllegalArgumentException(
          "keyPrefix must be 1-64 characters of [A-Za-z0-9._:@-], but was "
              + (keyPrefix == null ? "null" : "'" + keyPrefix + "'"));
    }
    this.keyPrefix = keyPrefix;
    return this;
  }

  /** The time budget of each Redis call; give the guard's cache timeout or less. */
  public RedisCreditCacheBuilder timeout(Duration timeout) {
    this.timeout = Checks.requirePositive("timeout", timeout);
    return this;
  }

  /** How long the breaker stays open before probing Redis again (ignored with a full config). */
  public RedisCreditCacheBuilder breakerOpenDuration(Duration duration) {
    this.breakerOpenDuration = Checks.requirePositive("breakerOpenDuration", duration);
    return this;
  }

  /** Replaces the default breaker settings altogether. */
  public RedisCreditCacheBuilder circuitBreaker(CircuitBreakerConfig config) {
    this.breakerConfig = Objects.requireNonNull(config, "config");
    return this;
  }

  /**
   * Turns on the in-process near cache (off by default). Lookups of an account served from memory
   * are at most {@link #nearCacheTtl} old, and normally evicted within milliseconds of any write
   * through a {@code RedisCreditCache} with the same prefix. Needs a client or URI.
   */
  public RedisCreditCacheBuilder nearCache(boolean enabled) {
    this.nearCache = enabled;
    return this;
  }

  /** The longest a near-cache entry lives: the staleness bound when invalidations are lost. */
  public RedisCreditCacheBuilder nearCacheTtl(Duration ttl) {
    this.nearCacheTtl = Checks.requirePositive("nearCacheTtl", ttl);
    return this;
  }

  public RedisCreditCacheBuilder nearCacheMaximumSize(long maximumSize) {
    if (maximumSize <= 0) {
      throw new IllegalArgumentException(
          "nearCacheMaximumSize must be positive, but was " + maximumSize);
    }
    this.nearCacheMaximumSize = maximumSize;
    return this;
  }

  /**
   * Whether lookups of different accounts that meet while Redis is busy share one MGET (on by
   * default; standalone Redis only, a cluster always sends one MGET per account). A lookup is never
   * held back waiting for company: it leaves at once unless {@link #lookupBatchesInFlight} MGETs
   * are already waiting for Redis, and then it leaves with the next reply. Each caller keeps its
   * own time budget and breaker verdict.
   */
  public RedisCreditCacheBuilder lookupBatching(boolean enabled) {
    this.lookupBatching = enabled;
    return this;
  }

  /** Accounts one coalesced MGET reads at most; 1 to 1000. */
  public RedisCreditCacheBuilder lookupBatchMaxAccounts(int maxAccounts) {
    if (maxAccounts < 1 || maxAccounts > 1000) {
      throw new IllegalArgumentException(
          "lookupBatchMaxAccounts must be 1 to 1000, but was " + maxAccounts);
    }
    this.lookupBatchMaxAccounts = maxAccounts;
    return this;
  }

  /** Coalesced MGETs that may wait for Redis at once; 1 to 64. */
  public RedisCreditCacheBuilder lookupBatchesInFlight(int batches) {
    if (batches < 1 || batches > 64) {
      throw new IllegalArgumentException(
          "lookupBatchesInFlight must be 1 to 64, but was " + batches);
    }
    this.lookupBatchesInFlight = batches;
    return this;
  }

  /** The time source of near-cache expiry; tests pass a fake. */
  public RedisCreditCacheBuilder ticker(Ticker ticker) {
    this.ticker = Objects.requireNonNull(ticker, "ticker");
    return this;
  }

  /**
   * Connects (and subscribes, with the near cache on), waiting at most the client's connect
   * timeout.
   *
   * @throws RedisCacheException when Redis cannot be reached
   * @throws IllegalStateException when the near cache is asked for on a caller's connection
   */
  public RedisCreditCache build() {
    if (nearCache && (connection != null || clusterConnection != null)) {
      throw new IllegalStateException(
          "nearCache needs a client or a URI to open its own pub/sub connection, "
              + "not a caller's connection");
    }
    RedisCacheOptions options =
        new RedisCacheOptions(
            keyPrefix,
            timeout,
            breakerConfig,
            breakerOpenDuration,
            nearCache,
            nearCacheTtl,
            nearCacheMaximumSize,
            ticker,
            lookupBatching,
            lookupBatchMaxAccounts,
            lookupBatchesInFlight);
    Deque<AutoCloseable> owned = new ArrayDeque<>();
    try {
      return connect(options, owned);
    } catch (RuntimeException e) {
      while (!owned.isEmpty()) {
        try {
          owned.pop().close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      if (e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
        throw e;
      }
      throw new RedisCacheException("cannot connect the redis credit cache: " + e.getMessage(), e);
    }
  }

  /** Opens what the cache needs, pushing on {@code owned} whatever it must close. */
  private RedisCreditCache connect(RedisCacheOptions options, Deque<AutoCloseable> owned) {
    RedisClient standalone = client;
    if (uri != null) {
      ClientResources resources =
          DefaultClientResources.builder()
              // Reconnect soon after Redis returns: the default backoff grows to 30 s.
              .reconnectDelay(
                  Delay.exponential(
                      Duration.ofMillis(20), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
              .build();
      owned.push(() -> resources.shutdown(0, 2, TimeUnit.SECONDS).get(3, TimeUnit.SECONDS));
      standalone = RedisClient.create(resources, uri);
      standalone.setOptions(RedisCreditCache.recommendedClientOptions(options.timeout()));
      RedisClient created = standalone;
      owned.push(() -> created.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    }
    RedisClusterAsyncCommands<String, String> commands;
    boolean cluster = clusterConnection != null || (connection == null && standalone == null);
    if (connection != null) {
      commands = connection.async();
    } else if (clusterConnection != null) {
      commands = clusterConnection.async();
    } else if (standalone != null) {
      StatefulRedisConnection<String, String> opened = standalone.connect();
      owned.push(opened);
      commands = opened.async();
    } else {
      var opened = clusterClient.connect();
      owned.push(opened);
      commands = opened.async();
    }
    String origin = UUID.randomUUID().toString().substring(0, 13);
    NearCache near = null;
    Runnable detach = () -> {};
    if (options.nearCache()) {
      near =
          new NearCache(options.nearCacheTtl(), options.nearCacheMaximumSize(), options.ticker());
      detach =
          NearCacheSubscription.subscribe(
              standalone, clusterClient, options.keys().invalidationChannel(), near, owned, origin);
    }
    RedisCreditCache cache =
        new RedisCreditCache(options, commands, cluster, origin, near, owned, detach);
    LuaScript.preloadAll(commands);
    return cache;
  }
}

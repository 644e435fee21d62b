package dev.creditgate.redis;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.BillingContext;
import dev.creditgate.CacheLookup;
import dev.creditgate.Checks;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditCache;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.internal.ThrottledLog;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The guard's {@link CreditCache} on Redis, standalone or cluster, through Lettuce.
 *
 * <p>What a caller may rely on:
 *
 * <ul>
 *   <li>Keys are {@code <prefix>:{<account>}:snapshot} and {@code <prefix>:{<account>}:blocked};
 *       the hash tag puts both in one cluster slot, so {@link #lookup} is one {@code MGET}: one
 *       network round trip. On standalone Redis, lookups of several accounts that arrive while
 *       Redis is busy share one {@code MGET} ({@link Builder#lookupBatching}); a lone lookup is
 *       sent at once, alone.
 *   <li>{@link #putSnapshot} is one Lua script (EVALSHA, re-sent as EVAL after {@code NOSCRIPT})
 *       that stores only over a lower version.
 *   <li>Every call completes within the time budget ({@link #DEFAULT_TIMEOUT}): late answers fail
 *       the future with {@link RedisCacheException}. A circuit breaker counts failures; once open
 *       it fails calls at once, without touching the network, and it probes Redis again by itself
 *       after {@link #DEFAULT_BREAKER_OPEN_DURATION}.
 *   <li>Every write publishes the account on {@code <prefix>:invalidations}; with the near cache
 *       on, each instance evicts what it holds for that account when the message arrives, and no
 *       near-cache entry is older than {@link Builder#nearCacheTtl} in any case.
 * </ul>
 *
 * <p>Ownership: built from a URI, the cache creates its client and closes it; built from a client,
 * it creates and closes its connections but leaves the client to the caller; built from a
 * connection, it closes nothing. Create one per process and share it; it is thread-safe.
 */
public final class RedisCreditCache implements CreditCache, AutoCloseable {

  /** Key prefix when none is set. */
  public static final String DEFAULT_KEY_PREFIX = "creditgate";

  /** Time budget of every Redis call: the guard's own cache budget. */
  public static final Duration DEFAULT_TIMEOUT = CreditBalanceGuard.DEFAULT_CACHE_TIMEOUT;

  /** How long the breaker stays open before it lets a few probe calls through. */
  public static final Duration DEFAULT_BREAKER_OPEN_DURATION = Duration.ofSeconds(1);

  /** Calls the breaker judges the failure rate over. */
  public static final int DEFAULT_BREAKER_WINDOW = 20;

  /** Calls needed in the window before the breaker may open. */
  public static final int DEFAULT_BREAKER_MINIMUM_CALLS = 10;

  /** Failure rate (percent) at which the breaker opens. */
  public static final float DEFAULT_BREAKER_FAILURE_RATE = 50f;

  /** The longest a near-cache entry lives: the staleness bound even when messages are lost. */
  public static final Duration DEFAULT_NEAR_CACHE_TTL = Duration.ofSeconds(1);

  /** Accounts the near cache holds at most. */
  public static final long DEFAULT_NEAR_CACHE_MAXIMUM_SIZE = 100_000;

  /** Whether concurrent lookups on standalone Redis share one MGET when none is set. */
  public static final boolean DEFAULT_LOOKUP_BATCHING = true;

  /** Accounts one coalesced MGET reads at most (two keys each). */
  public static final int DEFAULT_LOOKUP_BATCH_MAX_ACCOUNTS = 64;

  /** Coalesced MGETs that may wait for Redis at once; later lookups queue for the next. */
  public static final int DEFAULT_LOOKUP_BATCHES_IN_FLIGHT = 1;

  /** Connect timeout of the client the cache creates from a URI. */
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);

  private static final Logger LOG = LoggerFactory.getLogger(RedisCreditCache.class);
  private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9._:@-]{1,64}");

  private final String prefix;
  private final String channel;
  private final String origin;
  private final long timeoutNanos;
  private final RedisClusterAsyncCommands<String, String> commands;
  private final CircuitBreaker breaker;
  private final Deadlines deadlines;
  private final NearCache near;
  private final LookupBatcher<CacheLookup> batcher;
  private final Deque<AutoCloseable> owned;
  private final Runnable detach;
  private final LongAdder calls = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final LongAdder timeouts = new LongAdder();
  private final LongAdder rejected = new LongAdder();
  private final ThrottledLog malformedLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(10));
  private volatile boolean closed;

  private RedisCreditCache(
      String prefix,
      String origin,
      long timeoutNanos,
      RedisClusterAsyncCommands<String, String> commands,
      CircuitBreaker breaker,
      NearCache near,
      int batchAccounts,
      int batchesInFlight,
      Deque<AutoCloseable> owned,
      Runnable detach) {
    this.prefix = prefix;
    this.origin = origin;
    this.channel = prefix + ":invalidations";
    this.timeoutNanos = timeoutNanos;
    this.commands = commands;
    this.breaker = breaker;
    this.near = near;
    this.batcher =
        batchAccounts == 0
            ? null
            : new LookupBatcher<>(
                commands::mget,
                account -> new String[] {snapshotKey(account), markerKey(account)},
                2,
                this::toLookup,
                batchAccounts,
                batchesInFlight);
    this.owned = owned;
    this.deadlines = new Deadlines(timeoutNanos, "creditgate-redis-deadlines-" + prefix);
    // Closed last: pending calls fail at once instead of waiting out the budget.
    owned.addLast(deadlines);
    this.detach = detach;
  }

  /** A cache on the standalone Redis at {@code redisUri} (e.g. {@code redis://127.0.0.1:6379}). */
  public static Builder builder(String redisUri) {
    RedisURI uri;
    try {
      uri = RedisURI.create(Objects.requireNonNull(redisUri, "redisUri"));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "redisUri must be a Redis URI such as redis://127.0.0.1:6379, but was '" + redisUri + "'",
          e);
    }
    return new Builder(uri, null, null, null, null);
  }

  /** A cache on connections it opens with {@code client}; the client stays the caller's. */
  public static Builder builder(RedisClient client) {
    return new Builder(null, Objects.requireNonNull(client, "client"), null, null, null);
  }

  /** A cache on a Redis Cluster through {@code client}; the client stays the caller's. */
  public static Builder builder(RedisClusterClient client) {
    return new Builder(null, null, Objects.requireNonNull(client, "client"), null, null);
  }

  /** A cache on a connection the caller owns and closes; the near cache is not available. */
  public static Builder builder(StatefulRedisConnection<String, String> connection) {
    return new Builder(null, null, null, Objects.requireNonNull(connection, "connection"), null);
  }

  /**
   * A cache on a cluster connection the caller owns and closes; the near cache is not available.
   */
  public static Builder builder(StatefulRedisClusterConnection<String, String> connection) {
    return new Builder(null, null, null, null, Objects.requireNonNull(connection, "connection"));
  }

  /**
   * Client options suited to a cache with this time budget, for callers who create their own
   * client: commands fail at once while disconnected instead of queueing, and Lettuce cancels a
   * command after {@code timeout} so a stalled server does not pile commands up.
   */
  public static ClientOptions recommendedClientOptions(Duration timeout) {
    Checks.requirePositive("timeout", timeout);
    return ClientOptions.builder()
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .timeoutOptions(TimeoutOptions.enabled(timeout))
        .socketOptions(SocketOptions.builder().connectTimeout(DEFAULT_CONNECT_TIMEOUT).build())
        .build();
  }

  /** The key of the account's snapshot. */
  public String snapshotKey(String accountId) {
    return prefix + ":{" + accountId + "}:snapshot";
  }

  /** The key of the account's blocked marker. */
  public String markerKey(String accountId) {
    return prefix + ":{" + accountId + "}:blocked";
  }

  /** The pub/sub channel every write announces its account on. */
  public String invalidationChannel() {
    return channel;
  }

  @Override
  public CompletableFuture<CacheLookup> lookup(String accountId) {
    String account = BillingContext.requireValidAccountId(accountId);
    if (near == null) {
      return bounded("lookup", account, () -> readLookup(account));
    }
    CacheLookup cached = near.get(account);
    if (cached != null) {
      return CompletableFuture.completedFuture(cached);
    }
    long stamp = near.stamp(account);
    return bounded("lookup", account, () -> readLookup(account))
        .thenApply(
            found -> {
              near.putIfUnchanged(account, found, stamp);
              return found;
            });
  }

  private CompletionStage<CacheLookup> readLookup(String account) {
    if (batcher != null) {
      return batcher.lookup(account);
    }
    return commands
        .mget(snapshotKey(account), markerKey(account))
        .thenApply(values -> toLookup(account, values));
  }

  private CacheLookup toLookup(String account, List<KeyValue<String, String>> values) {
    String rawSnapshot = values.get(0).getValueOrElse(null);
    String rawMarker = values.get(1).getValueOrElse(null);
    CreditSnapshot snapshot = SnapshotCodec.decode(rawSnapshot);
    if (snapshot == null && rawSnapshot != null) {
      malformedLog.warn(
          System.nanoTime(),
          "ignoring malformed credit snapshot at {}: '{}'",
          snapshotKey(account),
          rawSnapshot);
    }
    long marker = SnapshotCodec.decodeMarker(rawMarker);
    if (marker < CacheLookup.NO_MARKER) {
      malformedLog.warn(
          System.nanoTime(),
          "ignoring malformed blocked marker at {}: '{}'",
          markerKey(account),
          rawMarker);
      marker = CacheLookup.NO_MARKER;
    }
    return marker == CacheLookup.NO_MARKER && snapshot == null
        ? CacheLookup.EMPTY
        : new CacheLookup(marker, snapshot);
  }

  @Override
  public CompletableFuture<Boolean> putSnapshot(
      String accountId, CreditSnapshot snapshot, Duration ttl) {
    String account = BillingContext.requireValidAccountId(accountId);
    Objects.requireNonNull(snapshot, "snapshot");
    String ttlMillis = ttlMillis(ttl);
    return write(
        "putSnapshot",
        account,
        () ->
            this.<Long>runScript(
                    LuaScript.PUT_SNAPSHOT,
                    new String[] {snapshotKey(account)},
                    Long.toString(snapshot.version()),
                    SnapshotCodec.encode(snapshot),
                    ttlMillis,
                    channel,
                    message(account))
                .thenApply(stored -> stored == 1L));
  }

  /**
   * One script ({@link LuaScript#PUT_STATE}): one round trip and one invalidation message for the
   * snapshot and its marker. With the near cache on, a state this call stored is also kept in this
   * instance's memory (write-through), so the gateway that charged an account does not read it back
   * from Redis on its next call; unless an invalidation from another instance arrived while the
   * write was under way, and never over a newer state kept there.
   */
  @Override
  public CompletableFuture<Boolean> putState(
      String accountId, CreditSnapshot snapshot, Duration snapshotTtl, Duration blockedTtl) {
    String account = BillingContext.requireValidAccountId(accountId);
    Objects.requireNonNull(snapshot, "snapshot");
    String snapshotTtlMillis = ttlMillis(snapshotTtl);
    String blockedTtlMillis = ttlMillis(blockedTtl);
    boolean spendable = snapshot.canSpend();
    long remoteStamp = near == null ? 0 : near.remoteStamp(account);
    CompletableFuture<Boolean> written =
        write(
            "putState",
            account,
            () ->
                this.<Long>runScript(
                        LuaScript.PUT_STATE,
                        new String[] {snapshotKey(account), markerKey(account)},
                        Long.toString(snapshot.version()),
                        SnapshotCodec.encode(snapshot),
                        snapshotTtlMillis,
                        spendable ? "clear" : "set",
                        blockedTtlMillis,
                        channel,
                        message(account))
                    .thenApply(stored -> stored == 1L));
    if (near == null) {
      return written;
    }
    CacheLookup state =
        new CacheLookup(spendable ? CacheLookup.NO_MARKER : snapshot.version(), snapshot);
    return written.thenApply(
        stored -> {
          if (stored) {
            near.putWritten(account, state, remoteStamp);
          }
          return stored;
        });
  }

  @Override
  public CompletableFuture<Void> setBlocked(String accountId, long version, Duration ttl) {
    String account = BillingContext.requireValidAccountId(accountId);
    if (version < 0) {
      throw new IllegalArgumentException("version must be >= 0, but was " + version);
    }
    String ttlMillis = ttlMillis(ttl);
    return write(
        "setBlocked",
        account,
        () ->
            this.<Long>runScript(
                    LuaScript.SET_BLOCKED,
                    new String[] {markerKey(account)},
                    Long.toString(version),
                    ttlMillis,
                    channel,
                    message(account))
                .thenApply(ignored -> null));
  }

  @Override
  public CompletableFuture<Void> clearBlocked(String accountId) {
    String account = BillingContext.requireValidAccountId(accountId);
    return write(
        "clearBlocked",
        account,
        () ->
            this.<Long>runScript(
                    LuaScript.DELETE, new String[] {markerKey(account)}, channel, message(account))
                .thenApply(ignored -> null));
  }

  @Override
  public CompletableFuture<Void> invalidate(String accountId) {
    String account = BillingContext.requireValidAccountId(accountId);
    return write(
        "invalidate",
        account,
        () ->
            this.<Long>runScript(
                    LuaScript.DELETE,
                    new String[] {snapshotKey(account), markerKey(account)},
                    channel,
                    message(account))
                .thenApply(ignored -> null));
  }

  /**
   * The invalidation message: the account, a space, and the writing instance's id, so an instance
   * skips its own messages (it already evicted locally, and a late own message would only evict
   * what it re-read since).
   */
  private String message(String account) {
    return account + " " + origin;
  }

  /** A write, with the account evicted from this instance's near cache before and after it. */
  private <T> CompletableFuture<T> write(
      String operation, String account, Supplier<CompletionStage<T>> command) {
    if (near == null) {
      return bounded(operation, account, command);
    }
    near.invalidate(account);
    return bounded(operation, account, command)
        .whenComplete((result, error) -> near.invalidate(account));
  }

  /**
   * EVALSHA, and on NOSCRIPT (a restarted or flushed server) EVAL, which caches the script again.
   */
  private <T> CompletionStage<T> runScript(LuaScript script, String[] keys, String... args) {
    CompletableFuture<T> sha =
        commands
            .<T>evalsha(script.sha(), ScriptOutputType.INTEGER, keys, args)
            .toCompletableFuture();
    return sha.exceptionallyCompose(
        error -> {
          Throwable cause = unwrap(error);
          if (cause instanceof RedisNoScriptException
              || (cause.getMessage() != null && cause.getMessage().startsWith("NOSCRIPT"))) {
            return commands
                .<T>eval(script.body(), ScriptOutputType.INTEGER, keys, args)
                .toCompletableFuture();
          }
          return CompletableFuture.failedFuture(cause);
        });
  }

  /**
   * Runs one Redis command under the breaker and the time budget. The caller sees a copy of
   * Lettuce's future, so the budget fails the caller's view without completing Lettuce's command
   * (Lettuce's own timeouts do not bound async calls).
   */
  private <T> CompletableFuture<T> bounded(
      String operation, String account, Supplier<CompletionStage<T>> command) {
    if (closed) {
      return CompletableFuture.failedFuture(
          new RedisCacheException("redis credit cache is closed"));
    }
    if (!breaker.tryAcquirePermission()) {
      rejected.increment();
      return CompletableFuture.failedFuture(
          RedisCacheException.withoutStackTrace(
              "redis " + operation + " not attempted: circuit breaker is " + breaker.getState()));
    }
    calls.increment();
    long start = System.nanoTime();
    CompletableFuture<T> timed = new CompletableFuture<>();
    try {
      command
          .get()
          .whenComplete(
              (value, error) -> {
                if (error == null) {
                  timed.complete(value);
                } else {
                  timed.completeExceptionally(error);
                }
              });
    } catch (RuntimeException e) {
      timed.completeExceptionally(e);
    }
    deadlines.bound(timed);
    CompletableFuture<T> result = new CompletableFuture<>();
    timed.whenComplete(
        (value, error) -> {
          long took = System.nanoTime() - start;
          if (error == null) {
            breaker.onSuccess(took, TimeUnit.NANOSECONDS);
            result.complete(value);
            return;
          }
          Throwable cause = unwrap(error);
          breaker.onError(took, TimeUnit.NANOSECONDS, cause);
          failures.increment();
          if (cause instanceof TimeoutException) {
            timeouts.increment();
            result.completeExceptionally(
                new RedisCacheException(
                    "redis "
                        + operation
                        + " for account "
                        + account
                        + " got no answer within "
                        + TimeUnit.NANOSECONDS.toMillis(timeoutNanos)
                        + " ms",
                    cause));
          } else {
            result.completeExceptionally(
                new RedisCacheException(
                    "redis "
                        + operation
                        + " for account "
                        + account
                        + " failed: "
                        + cause.getClass().getSimpleName()
                        + ": "
                        + cause.getMessage(),
                    cause));
          }
        });
    return result;
  }

  private static Throwable unwrap(Throwable error) {
    while ((error instanceof CompletionException || error instanceof ExecutionException)
        && error.getCause() != null) {
      error = error.getCause();
    }
    return error;
  }

  private static String ttlMillis(Duration ttl) {
    Checks.requirePositive("ttl", ttl);
    // Rounded up: a positive TTL below a millisecond must not become "no expiry" or an error.
    long millis = ttl.toMillis();
    return Long.toString(ttl.equals(Duration.ofMillis(millis)) ? millis : millis + 1);
  }

  /** The circuit breaker guarding Redis, e.g. to bind its metrics or watch its events. */
  public CircuitBreaker circuitBreaker() {
    return breaker;
  }

  /** Counters since the cache was built. */
  public RedisCacheStats stats() {
    return new RedisCacheStats(
        breaker.getState(),
        calls.sum(),
        failures.sum(),
        timeouts.sum(),
        rejected.sum(),
        near == null ? 0 : near.hits(),
        near == null ? 0 : near.misses(),
        near == null ? 0 : near.invalidations(),
        near == null ? 0 : near.subscriptionDrops());
  }

  /** Whether the near cache is on and currently subscribed to invalidations. */
  public boolean nearCacheActive() {
    return near != null && near.isListening();
  }

  /** Closes what the cache created (connections, and the client when built from a URI). */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    detach.run();
    RuntimeException failure = null;
    while (!owned.isEmpty()) {
      try {
        owned.pop().close();
      } catch (Exception e) {
        if (failure == null) {
          failure = new RedisCacheException("closing the redis credit cache failed", e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /**
   * Options for a {@link RedisCreditCache}. Every option has a named default; each setter validates
   * its value and names it in the error.
   */
  public static final class Builder {
    private final RedisURI uri;
    private final RedisClient client;
    private final RedisClusterClient clusterClient;
    private final StatefulRedisConnection<String, String> connection;
    private final StatefulRedisClusterConnection<String, String> clusterConnection;
    private String keyPrefix = DEFAULT_KEY_PREFIX;
    private Duration timeout = DEFAULT_TIMEOUT;
    private CircuitBreakerConfig breakerConfig;
    private Duration breakerOpenDuration = DEFAULT_BREAKER_OPEN_DURATION;
    private boolean nearCache;
    private Duration nearCacheTtl = DEFAULT_NEAR_CACHE_TTL;
    private long nearCacheMaximumSize = DEFAULT_NEAR_CACHE_MAXIMUM_SIZE;
    private Ticker ticker = Ticker.systemTicker();
    private boolean lookupBatching = DEFAULT_LOOKUP_BATCHING;
    private int lookupBatchMaxAccounts = DEFAULT_LOOKUP_BATCH_MAX_ACCOUNTS;
    private int lookupBatchesInFlight = DEFAULT_LOOKUP_BATCHES_IN_FLIGHT;

    private Builder(
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
    public Builder keyPrefix(String keyPrefix) {
      if (keyPrefix == null || !PREFIX.matcher(keyPrefix).matches()) {
        throw new IllegalArgumentException(
            "keyPrefix must be 1-64 characters of [A-Za-z0-9._:@-], but was "
                + (keyPrefix == null ? "null" : "'" + keyPrefix + "'"));
      }
      this.keyPrefix = keyPrefix;
      return this;
    }

    /** The time budget of each Redis call; give the guard's cache timeout or less. */
    public Builder timeout(Duration timeout) {
      this.timeout = Checks.requirePositive("timeout", timeout);
      return this;
    }

    /** How long the breaker stays open before probing Redis again (ignored with a full config). */
    public Builder breakerOpenDuration(Duration duration) {
      this.breakerOpenDuration = Checks.requirePositive("breakerOpenDuration", duration);
      return this;
    }

    /** Replaces the default breaker settings altogether. */
    public Builder circuitBreaker(CircuitBreakerConfig config) {
      this.breakerConfig = Objects.requireNonNull(config, "config");
      return this;
    }

    /**
     * Turns on the in-process near cache (off by default). Lookups of an account served from memory
     * are at most {@link #nearCacheTtl} old, and normally evicted within milliseconds of any write
     * through a {@code RedisCreditCache} with the same prefix. Needs a client or URI.
     */
    public Builder nearCache(boolean enabled) {
      this.nearCache = enabled;
      return this;
    }

    /** The longest a near-cache entry lives: the staleness bound when invalidations are lost. */
    public Builder nearCacheTtl(Duration ttl) {
      this.nearCacheTtl = Checks.requirePositive("nearCacheTtl", ttl);
      return this;
    }

    public Builder nearCacheMaximumSize(long maximumSize) {
      if (maximumSize <= 0) {
        throw new IllegalArgumentException(
            "nearCacheMaximumSize must be positive, but was " + maximumSize);
      }
      this.nearCacheMaximumSize = maximumSize;
      return this;
    }

    /**
     * Whether lookups of different accounts that meet while Redis is busy share one MGET (on by
     * default; standalone Redis only, a cluster always sends one MGET per account). A lookup is
     * never held back waiting for company: it leaves at once unless {@link #lookupBatchesInFlight}
     * MGETs are already waiting for Redis, and then it leaves with the next reply. Each caller
     * keeps its own time budget and breaker verdict.
     */
    public Builder lookupBatching(boolean enabled) {
      this.lookupBatching = enabled;
      return this;
    }

    /** Accounts one coalesced MGET reads at most; 1 to 1000. */
    public Builder lookupBatchMaxAccounts(int maxAccounts) {
      if (maxAccounts < 1 || maxAccounts > 1000) {
        throw new IllegalArgumentException(
            "lookupBatchMaxAccounts must be 1 to 1000, but was " + maxAccounts);
      }
      this.lookupBatchMaxAccounts = maxAccounts;
      return this;
    }

    /** Coalesced MGETs that may wait for Redis at once; 1 to 64. */
    public Builder lookupBatchesInFlight(int batches) {
      if (batches < 1 || batches > 64) {
        throw new IllegalArgumentException(
            "lookupBatchesInFlight must be 1 to 64, but was " + batches);
      }
      this.lookupBatchesInFlight = batches;
      return this;
    }

    /** The time source of near-cache expiry; tests pass a fake. */
    public Builder ticker(Ticker ticker) {
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
      CircuitBreaker breaker =
          CircuitBreaker.of(
              "creditgate-redis:" + keyPrefix,
              breakerConfig != null
                  ? breakerConfig
                  : CircuitBreakerConfig.custom()
                      .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                      .slidingWindowSize(DEFAULT_BREAKER_WINDOW)
                      .minimumNumberOfCalls(DEFAULT_BREAKER_MINIMUM_CALLS)
                      .failureRateThreshold(DEFAULT_BREAKER_FAILURE_RATE)
                      .waitDurationInOpenState(breakerOpenDuration)
                      .permittedNumberOfCallsInHalfOpenState(3)
                      .build());
      Deque<AutoCloseable> owned = new ArrayDeque<>();
      try {
        return connect(breaker, owned);
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
        throw new RedisCacheException(
            "cannot connect the redis credit cache: " + e.getMessage(), e);
      }
    }

    private RedisCreditCache connect(CircuitBreaker breaker, Deque<AutoCloseable> owned) {
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
        standalone.setOptions(recommendedClientOptions(timeout));
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
      if (nearCache) {
        near = new NearCache(nearCacheTtl, nearCacheMaximumSize, ticker);
        detach = subscribe(standalone, near, owned, origin);
      }
      // On a cluster the accounts of a batch hash to different slots: Lettuce would split the MGET
      // into one command per slot again, so each lookup stays its own MGET there.
      int batchAccounts = lookupBatching && !cluster ? lookupBatchMaxAccounts : 0;
      RedisCreditCache cache =
          new RedisCreditCache(
              keyPrefix,
              origin,
              timeout.toNanos(),
              commands,
              breaker,
              near,
              batchAccounts,
              lookupBatchesInFlight,
              owned,
              detach);
      preloadScripts(commands);
      return cache;
    }

    /**
     * Subscribes the near cache to the invalidation channel; returns how to unhook its listener.
     */
    private Runnable subscribe(
        RedisClient standalone, NearCache near, Deque<AutoCloseable> owned, String origin) {
      String channel = keyPrefix + ":invalidations";
      String ownSuffix = " " + origin;
      RedisPubSubAdapter<String, String> listener =
          new RedisPubSubAdapter<>() {
            @Override
            public void message(String from, String message) {
              if (!channel.equals(from) || message.endsWith(ownSuffix)) {
                return;
              }
              int space = message.indexOf(' ');
              near.onInvalidationMessage(space < 0 ? message : message.substring(0, space));
            }

            @Override
            public void subscribed(String to, long count) {
              // Also called when Lettuce resubscribes after a reconnect.
              if (channel.equals(to)) {
                near.startListening();
              }
            }
          };
      AbstractRedisClient owner;
      StatefulConnection<String, String> pubSub;
      if (standalone != null) {
        StatefulRedisPubSubConnection<String, String> opened = standalone.connectPubSub();
        owned.push(opened);
        opened.addListener(listener);
        opened.sync().subscribe(channel);
        pubSub = opened;
        owner = standalone;
      } else {
        var opened = clusterClient.connectPubSub();
        owned.push(opened);
        opened.addListener(listener);
        opened.sync().subscribe(channel);
        pubSub = opened;
        owner = clusterClient;
      }
      // Messages published while the subscription is down are lost: stop caching until it is back.
      RedisConnectionStateListener stateListener =
          new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
              if (handler == pubSub) {
                near.stopListening();
              }
            }
          };
      owner.addListener(stateListener);
      return () -> owner.removeListener(stateListener);
    }

    /**
     * Loads the scripts once, in the background; EVALSHA falls back to EVAL if this has not landed.
     */
    private static void preloadScripts(RedisClusterAsyncCommands<String, String> commands) {
      for (LuaScript script :
          new LuaScript[] {
            LuaScript.PUT_STATE, LuaScript.PUT_SNAPSHOT, LuaScript.SET_BLOCKED, LuaScript.DELETE
          }) {
        commands
            .scriptLoad(script.body())
            .whenComplete(
                (sha, error) -> {
                  if (error != null) {
                    LOG.debug(
                        "preloading redis script {} failed: {}", script.name(), error.toString());
                  }
                });
      }
    }
  }
}

package dev.creditgate.redis;

import dev.creditgate.BillingContext;
import dev.creditgate.CacheLookup;
import dev.creditgate.Checks;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditCache;
import dev.creditgate.CreditSnapshot;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Duration;
import java.util.Deque;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * The guard's {@link CreditCache} on Redis, standalone or cluster, through Lettuce.
 *
 * <p>What a caller may rely on:
 *
 * <ul>
 *   <li>Keys are {@code <prefix>:{<account>}:snapshot} and {@code <prefix>:{<account>}:blocked};
 *       the hash tag puts both in one cluster slot, so {@link #lookup} is one {@code MGET}: one
 *       network round trip. On standalone Redis, lookups of several accounts that arrive while
 *       Redis is busy share one {@code MGET} ({@link RedisCreditCacheBuilder#lookupBatching}); a
 *       lone lookup is sent at once, alone.
 *   <li>{@link #putSnapshot} is one Lua script (EVALSHA, re-sent as EVAL after {@code NOSCRIPT})
 *       that stores only over a lower version.
 *   <li>Every call completes within the time budget ({@link #DEFAULT_TIMEOUT}): late answers fail
 *       the future with {@link RedisCacheException}. A circuit breaker counts failures; once open
 *       it fails calls at once, without touching the network, and it probes Redis again by itself
 *       after {@link #DEFAULT_BREAKER_OPEN_DURATION}.
 *   <li>Every write publishes the account on {@code <prefix>:invalidations}; with the near cache
 *       on, each instance evicts what it holds for that account when the message arrives, and no
 *       near-cache entry is older than {@link RedisCreditCacheBuilder#nearCacheTtl} in any case.
 * </ul>
 *
 * <p>Ownership: built from a URI, the cache creates its client and closes it; built from a client,
 * it creates and closes its connections but leaves the client to the caller; built from a
 * connection, it closes nothing. Create one per process and share it; it is thread-safe.
 *
 * <p>Inside, each job has its own class: {@link RedisCreditCacheBuilder} connects, {@link
 * BoundedCalls} holds the breaker and the time budget, {@link LuaScript} the writes, {@link
 * LookupDecoder} reads a reply, and {@link NearCache} with {@link NearCacheSubscription} the
 * in-process copy.
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

  private final RedisKeys keys;
  private final String channel;
  private final String origin;
  private final RedisClusterAsyncCommands<String, String> commands;
  private final BoundedCalls calls;
  private final LookupDecoder decoder;
  private final NearCache near;
  private final LookupBatcher<CacheLookup> batcher;
  private final Deque<AutoCloseable> owned;
  private final Runnable detach;
  private volatile boolean closed;

  /**
   * @param cluster whether {@code commands} go to a Redis Cluster
   * @param origin this instance's id in its invalidation messages
   * @param near the near cache, or null when it is off
   * @param owned what {@link #close} closes, in order
   * @param detach unhooks what the near cache's subscription added to a caller's client
   */
  RedisCreditCache(
      RedisCacheOptions options,
      RedisClusterAsyncCommands<String, String> commands,
      boolean cluster,
      String origin,
      NearCache near,
      Deque<AutoCloseable> owned,
      Runnable detach) {
    this.keys = options.keys();
    this.origin = origin;
    this.channel = keys.invalidationChannel();
    this.commands = commands;
    this.decoder = new LookupDecoder(keys);
    this.near = near;
    int batchAccounts = options.batchAccounts(cluster);
    this.batcher =
        batchAccounts == 0
            ? null
            : new LookupBatcher<>(
                commands::mget,
                account -> new String[] {keys.snapshot(account), keys.marker(account)},
                2,
                decoder::decode,
                batchAccounts,
                options.lookupBatchesInFlight());
    this.owned = owned;
    this.calls =
        new BoundedCalls(
            options.circuitBreaker(),
            options.timeout().toNanos(),
            "creditgate-redis-deadlines-" + options.keyPrefix());
    // Closed last: pending calls fail at once instead of waiting out the budget.
    owned.addLast(calls);
    this.detach = detach;
  }

  /** A cache on the standalone Redis at {@code redisUri} (e.g. {@code redis://127.0.0.1:6379}). */
  public static RedisCreditCacheBuilder builder(String redisUri) {
    RedisURI uri;
    try {
      uri = RedisURI.create(Objects.requireNonNull(redisUri, "redisUri"));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "redisUri must be a Redis URI such as redis://127.0.0.1:6379, but was '" + redisUri + "'",
          e);
    }
    return new RedisCreditCacheBuilder(uri, null, null, null, null);
  }

  /** A cache on connections it opens with {@code client}; the client stays the caller's. */
  public static RedisCreditCacheBuilder builder(RedisClient client) {
    return new RedisCreditCacheBuilder(
        null, Objects.requireNonNull(client, "client"), null, null, null);
  }

  /** A cache on a Redis Cluster through {@code client}; the client stays the caller's. */
  public static RedisCreditCacheBuilder builder(RedisClusterClient client) {
    return new RedisCreditCacheBuilder(
        null, null, Objects.requireNonNull(client, "client"), null, null);
  }

  /** A cache on a connection the caller owns and closes; the near cache is not available. */
  public static RedisCreditCacheBuilder builder(
      StatefulRedisConnection<String, String> connection) {
    return new RedisCreditCacheBuilder(
        null, null, null, Objects.requireNonNull(connection, "connection"), null);
  }

  /**
   * A cache on a cluster connection the caller owns and closes; the near cache is not available.
   */
  public static RedisCreditCacheBuilder builder(
      StatefulRedisClusterConnection<String, String> connection) {
    return new RedisCreditCacheBuilder(
        null, null, null, null, Objects.requireNonNull(connection, "connection"));
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
    return keys.snapshot(accountId);
  }

  /** The key of the account's blocked marker. */
  public String markerKey(String accountId) {
    return keys.marker(accountId);
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
        .mget(keys.snapshot(account), keys.marker(account))
        .thenApply(values -> decoder.decode(account, values));
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

  /** EVALSHA of {@code script}, re-sent as EVAL after NOSCRIPT. */
  private <T> CompletionStage<T> runScript(LuaScript script, String[] scriptKeys, String... args) {
    return script.run(commands, scriptKeys, args);
  }

  /** One Redis command under the breaker and the time budget, unless the cache is closed. */
  private <T> CompletableFuture<T> bounded(
      String operation, String account, Supplier<CompletionStage<T>> command) {
    if (closed) {
      return CompletableFuture.failedFuture(
          new RedisCacheException("redis credit cache is closed"));
    }
    return calls.run(operation, account, command);
  }

  private static String ttlMillis(Duration ttl) {
    Checks.requirePositive("ttl", ttl);
    // Rounded up: a positive TTL below a millisecond must not become "no expiry" or an error.
    long millis = ttl.toMillis();
    return Long.toString(ttl.equals(Duration.ofMillis(millis)) ? millis : millis + 1);
  }

  /** The circuit breaker guarding Redis, e.g. to bind its metrics or watch its events. */
  public CircuitBreaker circuitBreaker() {
    return calls.breaker();
  }

  /** Counters since the cache was built. */
  public RedisCacheStats stats() {
    return calls.stats(near);
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
}

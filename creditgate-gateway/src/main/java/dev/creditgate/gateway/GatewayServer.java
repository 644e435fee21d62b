package dev.creditgate.gateway;

import dev.creditgate.CreditCache;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.ledger.LedgerCommitListener;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.redis.RedisCreditCache;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running gateway with everything it needs, built from a {@link GatewayConfig}: the ledger
 * (SQLite by default, PostgreSQL for a {@code jdbc:postgresql:} URL), the cache (in-process, or
 * Redis when a URI is set), the API key and admin token stores in the ledger's database, and the
 * HTTP server. {@link #close()} stops them in reverse order.
 */
public final class GatewayServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(GatewayServer.class);

  private final JdbcCreditLedger ledger;
  private final CreditCache cache;
  private final ApiKeyStore keys;
  private final AdminTokenStore adminTokens;
  private final Gateway gateway;
  private final Deque<AutoCloseable> owned;

  private GatewayServer(
      JdbcCreditLedger ledger,
      CreditCache cache,
      ApiKeyStore keys,
      AdminTokenStore adminTokens,
      Gateway gateway,
      Deque<AutoCloseable> owned) {
    this.ledger = ledger;
    this.cache = cache;
    this.keys = keys;
    this.adminTokens = adminTokens;
    this.gateway = gateway;
    this.owned = owned;
  }

  /**
   * Builds and starts everything.
   *
   * @throws ConfigException when the config cannot run
   */
  public static GatewayServer start(GatewayConfig config, Map<String, String> env) {
    Objects.requireNonNull(config, "config");
    Deque<AutoCloseable> owned = new ArrayDeque<>();
    try {
      CreditCache cache;
      if (config.redisUri().isEmpty()) {
        cache = InMemoryCreditCache.builder().build();
      } else {
        RedisCreditCache redis =
            RedisCreditCache.builder(config.redisUri())
                .keyPrefix(config.redisPrefix())
                .nearCache(config.nearCache())
                .nearCacheTtl(config.nearCacheTtl())
                .build();
        owned.push(redis);
        cache = redis;
      }
      // The one writer of account states into the cache: the ledger's commits and the guard's
      // back-fills both go through it. Closed after the ledger, whose last commits it publishes.
      SnapshotPublisher publisher =
          SnapshotPublisher.builder(cache).timeout(config.guardCacheTimeout()).build();
      owned.push(publisher);
      JdbcCreditLedger ledger = openLedger(config, publisher::publishAll);
      owned.push(ledger);
      // The keys have a pool of their own: a flood of bogus keys must not starve the ledger's.
      ApiKeyStore keys = ApiKeyStore.open(config.ledgerUrl(), Clock.systemUTC());
      owned.push(keys);
      // Admin tokens too: each admin request with one is a read, which must not wait for the
      // ledger's connections or the keys'. The key store migrated the tables they share.
      AdminTokenStore adminTokens =
          AdminTokenStore.open(config.ledgerUrl(), Clock.systemUTC(), false);
      owned.push(adminTokens);
      Gateway gateway =
          Gateway.builder()
              .config(config)
              .ledger(ledger)
              .cache(cache)
              .publisher(publisher)
              .keys(keys)
              .adminTokens(adminTokens)
              .env(env)
              .build();
      owned.push(gateway);
      gateway.start();
      return new GatewayServer(ledger, cache, keys, adminTokens, gateway, owned);
    } catch (RuntimeException e) {
      closeAll(owned);
      throw e;
    }
  }

  /** The ledger alone, for CLI commands that need no server. */
  public static JdbcCreditLedger openLedger(
      GatewayConfig config, LedgerCommitListener commitListener) {
    return JdbcCreditLedger.builder()
        .jdbcUrl(config.ledgerUrl())
        .spoolDirectory(config.spoolDir())
        .spoolCapacity(config.spoolCapacity())
        .writeBehind(config.ledgerWriteBehind())
        .unpricedFallback(config.credit().unpricedFallbackCreditsPer1kTokens())
        .commitListener(commitListener)
        .build();
  }

  public Gateway gateway() {
    return gateway;
  }

  public JdbcCreditLedger ledger() {
    return ledger;
  }

  public CreditCache cache() {
    return cache;
  }

  public ApiKeyStore keys() {
    return keys;
  }

  public AdminTokenStore adminTokens() {
    return adminTokens;
  }

  public int port() {
    return gateway.port();
  }

  @Override
  public void close() {
    closeAll(owned);
  }

  private static void closeAll(Deque<AutoCloseable> owned) {
    while (!owned.isEmpty()) {
      AutoCloseable c = owned.pop();
      try {
        c.close();
      } catch (Exception e) {
        LOG.warn("closing {} failed: {}", c.getClass().getSimpleName(), e.toString());
      }
    }
  }
}

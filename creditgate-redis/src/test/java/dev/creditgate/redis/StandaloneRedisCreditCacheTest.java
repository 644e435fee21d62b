package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.CacheLookup;
import dev.creditgate.CreditSnapshot;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link RedisCreditCache} on the shared standalone Redis ({@code CREDITGATE_REDIS_URI}). */
class StandaloneRedisCreditCacheTest extends AbstractRedisCreditCacheTest {

  static final String URI =
      System.getenv().getOrDefault("CREDITGATE_REDIS_URI", "redis://127.0.0.1:6379");

  /** A budget for tests about behaviour, not timing, on a machine shared with parallel builds. */
  static final Duration PATIENT = Duration.ofSeconds(2);

  static RedisClient client;
  static StatefulRedisConnection<String, String> rawConnection;

  @BeforeAll
  static void connect() {
    client = RedisClient.create(URI);
    client.setOptions(RedisCreditCache.recommendedClientOptions(Duration.ofSeconds(2)));
    rawConnection = client.connect();
  }

  @AfterAll
  static void disconnect() {
    rawConnection.close();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  @Override
  RedisCreditCache newCache(String prefix) {
    return RedisCreditCache.builder(client).keyPrefix(prefix).timeout(PATIENT).build();
  }

  @Override
  RedisClusterCommands<String, String> raw() {
    return rawConnection.sync();
  }

  /** The promise the whole module exists for, checked on the server's own command counters. */
  @Test
  void lookupIsExactlyOneCommandOnTheServer() throws Exception {
    try (RedisServerProcess server = RedisServerProcess.start();
        RedisCreditCache own =
            RedisCreditCache.builder(server.uri()).keyPrefix(prefix).timeout(PATIENT).build()) {
      RedisClient statsClient = RedisClient.create(server.uri());
      try (StatefulRedisConnection<String, String> stats = statsClient.connect()) {
        own.putSnapshot("acct", snapshot(10, 1), TTL).get(1, TimeUnit.SECONDS);
        own.setBlocked("acct", 1, TTL).get(1, TimeUnit.SECONDS);
        Map<String, Long> before = commandCalls(stats.sync());
        CacheLookup found = own.lookup("acct").get(1, TimeUnit.SECONDS);
        Map<String, Long> after = commandCalls(stats.sync());

        assertThat(found).isEqualTo(new CacheLookup(1, snapshot(10, 1)));
        Map<String, Long> delta = new HashMap<>();
        after.forEach(
            (command, calls) -> {
              long diff = calls - before.getOrDefault(command, 0L);
              if (diff != 0 && !command.equals("info")) {
                delta.put(command, diff);
              }
            });
        assertThat(delta).isEqualTo(Map.of("mget", 1L));
      } finally {
        statsClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
    }
  }

  static Map<String, Long> commandCalls(RedisCommands<String, String> commands) {
    Map<String, Long> calls = new HashMap<>();
    for (String line : commands.info("commandstats").split("\r?\n")) {
      if (line.startsWith("cmdstat_")) {
        String name = line.substring("cmdstat_".length(), line.indexOf(':'));
        String count =
            line.substring(line.indexOf("calls=") + 6, line.indexOf(',', line.indexOf("calls=")));
        calls.put(name, Long.parseLong(count));
      }
    }
    return calls;
  }

  @Test
  void scriptsRunByShaAndAreReloadedAfterScriptFlush() throws Exception {
    try (RedisServerProcess server = RedisServerProcess.start();
        RedisCreditCache own =
            RedisCreditCache.builder(server.uri()).keyPrefix(prefix).timeout(PATIENT).build()) {
      RedisClient statsClient = RedisClient.create(server.uri());
      try (StatefulRedisConnection<String, String> stats = statsClient.connect()) {
        assertThat(own.putSnapshot("acct", snapshot(10, 1), TTL).get(1, TimeUnit.SECONDS)).isTrue();
        Map<String, Long> before = commandCalls(stats.sync());
        assertThat(own.putSnapshot("acct", snapshot(10, 2), TTL).get(1, TimeUnit.SECONDS)).isTrue();
        Map<String, Long> loaded = commandCalls(stats.sync());
        assertThat(loaded.get("evalsha") - before.getOrDefault("evalsha", 0L)).isEqualTo(1);
        assertThat(loaded.getOrDefault("eval", 0L)).isEqualTo(before.getOrDefault("eval", 0L));

        stats.sync().scriptFlush();
        assertThat(own.putSnapshot("acct", snapshot(10, 3), TTL).get(1, TimeUnit.SECONDS)).isTrue();
        assertThat(own.putSnapshot("acct", snapshot(10, 4), TTL).get(1, TimeUnit.SECONDS)).isTrue();
        Map<String, Long> after = commandCalls(stats.sync());
        // One NOSCRIPT answered by one EVAL, which caches the script: the next write is EVALSHA
        // again.
        assertThat(after.get("eval") - loaded.getOrDefault("eval", 0L)).isEqualTo(1);
        assertThat(after.get("evalsha") - loaded.get("evalsha")).isEqualTo(2);
        assertThat(own.lookup("acct").get(1, TimeUnit.SECONDS).snapshot().version()).isEqualTo(4);
      } finally {
        statsClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
    }
  }

  @Test
  void cacheOnCallersConnectionLeavesItOpen() throws Exception {
    try (StatefulRedisConnection<String, String> mine = client.connect()) {
      RedisCreditCache onMine =
          RedisCreditCache.builder(mine).keyPrefix(prefix).timeout(PATIENT).build();
      onMine.putSnapshot("acct", snapshot(3, 1), TTL).get(1, TimeUnit.SECONDS);
      onMine.close();
      assertThat(mine.isOpen()).isTrue();
      assertThat(mine.sync().get(prefix + ":{acct}:snapshot")).startsWith("1|1|3|0|");
      assertThatThrownBy(() -> onMine.lookup("acct").get(1, TimeUnit.SECONDS))
          .hasCauseInstanceOf(RedisCacheException.class)
          .hasMessageContaining("closed");
    }
  }

  @Test
  void cacheFromUriOwnsAndClosesItsClient() throws Exception {
    RedisCreditCache fromUri =
        RedisCreditCache.builder(URI).keyPrefix(prefix).timeout(PATIENT).build();
    fromUri.putSnapshot("acct", snapshot(3, 1), TTL).get(1, TimeUnit.SECONDS);
    fromUri.close();
    fromUri.close();
    assertThat(cache.lookup("acct").get(1, TimeUnit.SECONDS).snapshot()).isEqualTo(snapshot(3, 1));
  }

  @Test
  void builderRejectsBadOptionsNamingTheValue() {
    assertThatThrownBy(() -> RedisCreditCache.builder("http://nope"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'http://nope'");
    assertThatThrownBy(() -> RedisCreditCache.builder(client).keyPrefix("bad prefix"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'bad prefix'");
    assertThatThrownBy(() -> RedisCreditCache.builder(client).keyPrefix("a{b}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'a{b}'");
    assertThatThrownBy(() -> RedisCreditCache.builder(client).timeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("timeout must be positive, but was PT0S");
    assertThatThrownBy(() -> RedisCreditCache.builder(client).nearCacheTtl(Duration.ofMillis(-5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PT-0.005S");
    assertThatThrownBy(() -> RedisCreditCache.builder(client).nearCacheMaximumSize(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("but was 0");
    assertThatThrownBy(() -> RedisCreditCache.builder(client).lookupBatchMaxAccounts(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lookupBatchMaxAccounts")
        .hasMessageContaining("but was 0");
    assertThatThrownBy(() -> RedisCreditCache.builder(client).lookupBatchesInFlight(65))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lookupBatchesInFlight")
        .hasMessageContaining("but was 65");
    assertThatThrownBy(() -> RedisCreditCache.builder(rawConnection).nearCache(true).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("nearCache");
  }

  @Test
  void unreachableRedisAtBuildIsAClearError() throws Exception {
    int port = RedisServerProcess.freePort();
    assertThatThrownBy(() -> RedisCreditCache.builder("redis://127.0.0.1:" + port).build())
        .isInstanceOf(RedisCacheException.class)
        .hasMessageContaining("cannot connect");
  }

  @Test
  void defaultsAreTheGuardsBudgetAndPrefix() {
    assertThat(RedisCreditCache.DEFAULT_TIMEOUT)
        .isEqualTo(dev.creditgate.CreditBalanceGuard.DEFAULT_CACHE_TIMEOUT);
    try (RedisCreditCache defaults = RedisCreditCache.builder(client).build()) {
      assertThat(defaults.snapshotKey("a")).isEqualTo("creditgate:{a}:snapshot");
      assertThat(defaults.invalidationChannel()).isEqualTo("creditgate:invalidations");
    }
  }

  static CreditSnapshot snapshot(long credit, long version) {
    return AbstractRedisCreditCacheTest.snapshot(credit, version);
  }
}

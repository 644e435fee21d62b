package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bogus API keys from one client address cost the key table a bounded number of reads: with the
 * default limits, an address's 21st failed authentication within a minute is answered 429 {@code
 * too_many_authentication_failures} with {@code Retry-After}, without a database read, while
 * another address still authenticates (and is refused on its own count). A key the gateway
 * remembers as valid still works from a throttled address.
 */
class FailedAuthLimitTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  /** Key records that count the reads of a key by its hash. */
  private static final class CountingRecords implements ApiKeyRecords {
    final AtomicInteger reads = new AtomicInteger();
    volatile boolean down;

    /** When set, reads wait (up to 5 s) until this many are under way at once. */
    volatile java.util.concurrent.CountDownLatch together;

    private final ApiKeyRecords delegate;

    CountingRecords(ApiKeyRecords delegate) {
      this.delegate = delegate;
    }

    @Override
    public void insert(ApiKey key, String keyHash) {
      delegate.insert(key, keyHash);
    }

    @Override
    public Optional<ApiKey> findByHash(String keyHash) {
      reads.incrementAndGet();
      java.util.concurrent.CountDownLatch meet = together;
      if (meet != null) {
        meet.countDown();
        try {
          meet.await(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (down) {
        throw new dev.creditgate.ledger.LedgerUnavailableException(
            "injected: key table unreachable", null);
      }
      return delegate.findByHash(keyHash);
    }

    @Override
    public Optional<ApiKey> find(String id) {
      return delegate.find(id);
    }

    @Override
    public List<ApiKey> list(String accountId) {
      return delegate.list(accountId);
    }

    @Override
    public void revoke(String id, Instant at) {
      delegate.revoke(id, at);
    }

    @Override
    public Map<String, Long> revokedSince(long fromMillis) {
      return delegate.revokedSince(fromMillis);
    }
  }

  /** What a test gets: the gateway's base URL, its clock, its key records and two keys. */
  private record Env(
      String base,
      AtomicLong nanos,
      CountingRecords records,
      ApiKeyStore keys,
      String remembered,
      String unseen) {}

  private interface Body {
    void run(Env env) throws Exception;
  }

  @Test
  void aFloodOfBogusKeysFromOneAddressGets429WhileAnotherAddressStillAuthenticates()
      throws Exception {
    withGateway(this::flood);
  }

  @Test
  void whileTheKeyTableIsAwayBogusKeysAreLimitedToo() throws Exception {
    withGateway(
        env -> {
          HttpClient attacker =
              HttpClient.newBuilder().localAddress(InetAddress.getByName("127.0.0.2")).build();
          env.records().down = true;
          int unavailable = 0;
          int throttled = 0;
          for (int i = 0; i < 40; i++) {
            HttpResponse<String> r = chat(attacker, env.base(), bogus());
            if (r.statusCode() == 503) {
              assertThat(throttled).isZero();
              unavailable++;
            } else {
              assertThat(r.statusCode()).isEqualTo(429);
              throttled++;
            }
          }
          assertThat(unavailable).isEqualTo(20);
          assertThat(throttled).isEqualTo(20);
          assertThat(env.records().reads.get()).isEqualTo(20);
        });
  }

  @Test
  void aBurstOfANewValidKeysCallsIsNeverRefused() throws Exception {
    withGateway(
        env -> {
          HttpClient client =
              HttpClient.newBuilder().localAddress(InetAddress.getByName("127.0.0.3")).build();
          // 100 calls at once with a key not yet remembered: each may need a read (50 of them are
          // held until all 50 are under way), none fails.
          env.records().together = new java.util.concurrent.CountDownLatch(50);
          java.util.List<java.util.concurrent.Future<HttpResponse<String>>> calls =
              new java.util.ArrayList<>();
          try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 100; i++) {
              calls.add(pool.submit(() -> models(client, env.base(), env.unseen())));
            }
            for (var call : calls) {
              HttpResponse<String> r = call.get();
              assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            }
          }
          env.records().together = null;
          // The address still has all its failures.
          for (int i = 0; i < 20; i++) {
            assertThat(chat(client, env.base(), bogus()).statusCode()).isEqualTo(401);
          }
          assertThat(chat(client, env.base(), bogus()).statusCode()).isEqualTo(429);
        });
  }

  private void withGateway(Body body) throws Exception {
    // The gateway's clock, moved by the test only: the flood's timing does not change its counts.
    AtomicLong nanos = new AtomicLong();
    com.github.benmanes.caffeine.cache.Ticker ticker = nanos::get;
    InMemoryCreditCache cache = InMemoryCreditCache.create();
    try (TestUpstream upstream = new TestUpstream();
        SnapshotPublisher publisher = SnapshotPublisher.builder(cache).build();
        JdbcCreditLedger ledger =
            JdbcCreditLedger.builder()
                .jdbcUrl("jdbc:sqlite:" + tmp.resolve("c.db"))
                .spoolDirectory(tmp.resolve("spool"))
                .commitListener(publisher::publishAll)
                .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      CountingRecords records = new CountingRecords(new JdbcApiKeyRecords(ledger.dataSource()));
      ApiKeyStore keys =
          new ApiKeyStore(records, Clock.systemUTC(), ApiKeyStore.DEFAULT_CACHE_TTL, ticker);
      ledger.grant("acme", 1_000_000_000L, "g1", "test", "");
      ledger.createPriceRule(GatewayTestSupport.RULE);
      String remembered = keys.create(ApiKey.Kind.USER, "acme", "").secret();
      String unseen = keys.create(ApiKey.Kind.USER, "acme", "").secret();
      GatewayConfig config =
          GatewayConfig.fromProperties(
              Map.of(
                  "server.port",
                  "0",
                  "admin.token",
                  GatewayTestSupport.ADMIN_TOKEN,
                  "models.pro.base-url",
                  upstream.baseUrl(),
                  "models.pro.model",
                  "m"),
              Map.of());
      try (Gateway gateway =
          Gateway.builder()
              .config(config)
              .ledger(ledger)
              .cache(cache)
              .publisher(publisher)
              .keys(keys)
              .ticker(ticker)
              .build()
              .start()) {
        body.run(
            new Env(
                "http://127.0.0.1:" + gateway.port(), nanos, records, keys, remembered, unseen));
      }
    }
  }

  private void flood(Env env) throws Exception {
    String base = env.base();
    AtomicLong nanos = env.nanos();
    CountingRecords records = env.records();
    ApiKeyStore keys = env.keys();
    String remembered = env.remembered();
    String unseen = env.unseen();
    HttpClient attacker =
        HttpClient.newBuilder().localAddress(InetAddress.getByName("127.0.0.2")).build();
    HttpClient other =
        HttpClient.newBuilder().localAddress(InetAddress.getByName("127.0.0.1")).build();

    int refused = 0;
    int throttled = 0;
    for (int i = 0; i < 60; i++) {
      HttpResponse<String> r = chat(attacker, base, bogus());
      JsonNode error = JSON.readTree(r.body()).path("error");
      if (r.statusCode() == 401) {
        assertThat(throttled).as("no 401 after the first 429").isZero();
        assertThat(error.path("code").asText()).isEqualTo("invalid_api_key");
        refused++;
      } else {
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(error.path("code").asText()).isEqualTo("too_many_authentication_failures");
        assertThat(error.path("type").asText()).isEqualTo("rate_limit_error");
        assertThat(r.headers().firstValue("Retry-After")).hasValue("3");
        throttled++;
      }
    }
    assertThat(refused).isEqualTo(20);
    assertThat(throttled).isEqualTo(40);
    assertThat(records.reads.get()).as("key reads for 60 bogus keys").isEqualTo(20);
    assertThat(models(attacker, base, bogus()).statusCode()).isEqualTo(429);

    // Another address: its own count, and its keys work.
    assertThat(chat(other, base, bogus()).statusCode()).isEqualTo(401);
    assertThat(chat(other, base, remembered).statusCode()).isEqualTo(200);
    assertThat(models(other, base, remembered).statusCode()).isEqualTo(200);

    // From the throttled address, a key the gateway remembers as valid works (no read); one it
    // would have to read waits like a bogus one.
    int reads = records.reads.get();
    assertThat(chat(attacker, base, remembered).statusCode()).isEqualTo(200);
    assertThat(chat(attacker, base, unseen).statusCode()).isEqualTo(429);
    assertThat(records.reads.get()).isEqualTo(reads);

    // One attempt back every 3 s (20 a minute).
    nanos.addAndGet(Duration.ofMillis(3_100).toNanos());
    assertThat(chat(attacker, base, unseen).statusCode())
        .as("a valid key gives its attempt back")
        .isEqualTo(200);
    assertThat(chat(attacker, base, bogus()).statusCode()).isEqualTo(401);
    assertThat(chat(attacker, base, bogus()).statusCode()).isEqualTo(429);
    assertThat(records.reads.get()).isEqualTo(reads + 2);
    assertThat(keys.keyReads()).isEqualTo(records.reads.get());
  }

  private static String bogus() {
    return "cgk_" + UUID.randomUUID().toString().replace("-", "") + "0123456789a";
  }

  private static HttpResponse<String> chat(HttpClient http, String base, String key)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(AbstractGatewayE2eTest.HELLO))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> models(HttpClient http, String base, String key)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(base + "/v1/models"))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", "Bearer " + key)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.CacheLookup;
import dev.creditgate.CreditCache;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One account id travels gateway, meter, guard and ledger and back with one cache read per call:
 * nothing on the call path reads the cache on the guard's behalf (the account's own queued charges
 * reach the guard from the ledger's memory).
 */
class OneCacheReadPerCallTest {

  @TempDir Path tmp;

  @Test
  void eachCallReadsTheCacheOnce() throws Exception {
    CountingCache cache = new CountingCache(InMemoryCreditCache.create());
    // Wired as the gateway server wires it: the ledger's commits reach the cache through the
    // publisher.
    try (TestUpstream upstream = new TestUpstream();
        SnapshotPublisher publisher = SnapshotPublisher.builder(cache).build();
        JdbcCreditLedger ledger =
            JdbcCreditLedger.builder()
                .jdbcUrl("jdbc:sqlite:" + tmp.resolve("c.db"))
                .spoolDirectory(tmp.resolve("spool"))
                .writeBehind(true)
                .commitListener(publisher::publishAll)
                .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
      ApiKeyStore keys = new ApiKeyStore(ledger.dataSource(), Clock.systemUTC());
      ledger.grant("acme", 1_000_000_000L, "g1", "test", "");
      ledger.createPriceRule(GatewayTestSupport.RULE);
      String key = keys.create(ApiKey.Kind.USER, "acme", "").secret();
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
              .build()
              .start()) {
        HttpClient http = HttpClient.newHttpClient();
        URI uri = URI.create("http://127.0.0.1:" + gateway.port() + "/v1/chat/completions");
        for (String body :
            new String[] {
              AbstractGatewayE2eTest.HELLO,
              GatewayTestSupport.HELLO_STREAM,
              AbstractGatewayE2eTest.HELLO,
              GatewayTestSupport.HELLO_STREAM
            }) {
          int before = cache.lookups.get();
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(uri)
                      .header("Authorization", "Bearer " + key)
                      .POST(HttpRequest.BodyPublishers.ofString(body))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          assertThat(r.statusCode()).isEqualTo(200);
          assertThat(cache.lookups.get() - before).as("cache reads for %s", body).isEqualTo(1);
        }
        assertThat(ledger.awaitCharges("acme", Duration.ofSeconds(10))).isTrue();
        assertThat(ledger.entries("acme", null, 10).items()).hasSize(5);
      }
    }
  }

  /** A cache that counts its reads. */
  private static final class CountingCache implements CreditCache {
    final AtomicInteger lookups = new AtomicInteger();
    private final CreditCache delegate;

    CountingCache(CreditCache delegate) {
      this.delegate = delegate;
    }

    @Override
    public CompletableFuture<CacheLookup> lookup(String accountId) {
      lookups.incrementAndGet();
      return delegate.lookup(accountId);
    }

    @Override
    public CompletableFuture<Boolean> putSnapshot(
        String accountId, CreditSnapshot snapshot, Duration ttl) {
      return delegate.putSnapshot(accountId, snapshot, ttl);
    }

    @Override
    public CompletableFuture<Void> setBlocked(String accountId, long version, Duration ttl) {
      return delegate.setBlocked(accountId, version, ttl);
    }

    @Override
    public CompletableFuture<Void> clearBlocked(String accountId) {
      return delegate.clearBlocked(accountId);
    }

    @Override
    public CompletableFuture<Void> invalidate(String accountId) {
      return delegate.invalidate(accountId);
    }
  }
}

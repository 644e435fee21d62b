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
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /health/ready} needs no credentials, so a flood of it must not become a flood of ledger
 * and cache reads: callers without the admin token share one check a second; a caller with the
 * token gets a fresh check with its detail.
 */
class ReadinessProbeCostTest {

  @TempDir Path tmp;

  @Test
  void readinessWithoutTheTokenIsCheckedAtMostOnceASecond() throws Exception {
    AtomicLong nanos = new AtomicLong();
    CountingCache cache = new CountingCache(InMemoryCreditCache.create());
    try (TestUpstream upstream = new TestUpstream();
        SnapshotPublisher publisher = SnapshotPublisher.builder(cache).build();
        JdbcCreditLedger ledger =
            JdbcCreditLedger.builder()
                .jdbcUrl("jdbc:sqlite:" + tmp.resolve("c.db"))
                .spoolDirectory(tmp.resolve("spool"))
                .commitListener(publisher::publishAll)
                .build()) {
      ApiKeyStore.migrate(ledger.dataSource());
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
              .keys(new ApiKeyStore(ledger.dataSource(), Clock.systemUTC()))
              .ticker(nanos::get)
              .build()
              .start()) {
        HttpClient http = HttpClient.newHttpClient();
        URI uri = URI.create("http://127.0.0.1:" + gateway.port() + "/health/ready");
        int before = cache.healthChecks.get();
        for (int i = 0; i < 100; i++) {
          HttpResponse<String> r =
              http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
          assertThat(r.statusCode()).isEqualTo(200);
          assertThat(r.body()).isEqualTo("{\"status\":\"ready\"}");
        }
        assertThat(cache.healthChecks.get() - before).as("checks for 100 probes").isLessThan(2);
        nanos.addAndGet(Duration.ofMillis(1_001).toNanos());
        int second = cache.healthChecks.get();
        for (int i = 0; i < 100; i++) {
          http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        }
        assertThat(cache.healthChecks.get() - second).isEqualTo(1);

        int admin = cache.healthChecks.get();
        for (int i = 0; i < 3; i++) {
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(uri)
                      .header("Authorization", "Bearer " + GatewayTestSupport.ADMIN_TOKEN)
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          assertThat(r.body()).contains("\"upstreams\"");
        }
        assertThat(cache.healthChecks.get() - admin).as("each admin probe checks").isEqualTo(3);
      }
    }
  }

  /** A cache that counts the readiness probe's reads. */
  private static final class CountingCache implements CreditCache {
    final AtomicInteger healthChecks = new AtomicInteger();
    private final CreditCache delegate;

    CountingCache(CreditCache delegate) {
      this.delegate = delegate;
    }

    @Override
    public CompletableFuture<CacheLookup> lookup(String accountId) {
      if (accountId.equals("health-check")) {
        healthChecks.incrementAndGet();
      }
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

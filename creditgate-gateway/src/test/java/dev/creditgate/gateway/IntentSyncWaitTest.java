package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.ledger.ChargeIntent;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.MeteringLedger;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ledger.intent-sync-wait}: how long an answer waits for its call's intent to be fsync'd.
 * The ledger here never reports an intent durable (a disk whose flushes stall).
 */
class IntentSyncWaitTest {

  @TempDir Path tmp;

  @Test
  void anAnswerWaitsForItsIntentAtMostTheConfiguredTimeAndNotAtAllWithZero() throws Exception {
    try (TestUpstream upstream = new TestUpstream();
        JdbcCreditLedger real =
            JdbcCreditLedger.builder()
                .jdbcUrl("jdbc:sqlite:" + tmp.resolve("i.db"))
                .spoolDirectory(tmp.resolve("spool"))
                .build()) {
      ApiKeyStore.migrate(real.dataSource());
      ApiKeyStore keys = new ApiKeyStore(real.dataSource(), Clock.systemUTC());
      real.grant("acme", 1_000_000, "seed", "test", "seed");
      real.createPriceRule(GatewayTestSupport.RULE);
      String key = keys.create(ApiKey.Kind.USER, "acme", "").secret();
      AtomicInteger awaited = new AtomicInteger();
      MeteringLedger stalling = stallingIntents(real, awaited);

      long waited = call(upstream, keys, key, real, stalling, "400ms");
      assertThat(awaited.get()).isEqualTo(1);
      assertThat(Duration.ofNanos(waited))
          .isGreaterThanOrEqualTo(Duration.ofMillis(400))
          .isLessThan(Duration.ofSeconds(3));

      waited = call(upstream, keys, key, real, stalling, "0s");
      assertThat(awaited.get()).as("not asked with zero").isEqualTo(1);
      assertThat(Duration.ofNanos(waited)).isLessThan(Duration.ofMillis(400));
      // Both calls were served and charged.
      assertThat(real.awaitCharges("acme", Duration.ofSeconds(10))).isTrue();
      assertThat(real.entries("acme", null, 10).items()).hasSize(3);
    }
  }

  /** One chat call through a gateway with the given wait; returns how long it took in nanos. */
  private long call(
      TestUpstream upstream,
      ApiKeyStore keys,
      String key,
      JdbcCreditLedger real,
      MeteringLedger ledger,
      String wait)
      throws Exception {
    GatewayConfig config =
        GatewayConfig.fromProperties(
            Map.of(
                "server.port",
                "0",
                "admin.token",
                "intent-wait-admin-token-123",
                "models.pro.base-url",
                upstream.baseUrl(),
                "models.pro.model",
                "m",
                "ledger.intent-sync-wait",
                wait),
            Map.of());
    assertThat(config.intentSyncWait()).isEqualTo(GatewayConfig.parseDuration(wait));
    try (Gateway gateway =
        Gateway.builder()
            .config(config)
            .ledger(real)
            .metering(ledger)
            .cache(InMemoryCreditCache.builder().build())
            .keys(keys)
            .build()
            .start()) {
      HttpClient http = HttpClient.newHttpClient();
      long start = System.nanoTime();
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + gateway.port() + "/v1/chat/completions"))
                  .header("Authorization", "Bearer " + key)
                  .POST(HttpRequest.BodyPublishers.ofString(AbstractGatewayE2eTest.HELLO))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      long took = System.nanoTime() - start;
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue(dev.creditgate.gateway.internal.LlmCalls.CHARGED_HEADER))
          .hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isPositive());
      return took;
    }
  }

  /**
   * {@code real}, except that its intents never become durable: a wait for one lasts its whole
   * timeout.
   */
  private static MeteringLedger stallingIntents(MeteringLedger real, AtomicInteger awaited) {
    return (MeteringLedger)
        Proxy.newProxyInstance(
            IntentSyncWaitTest.class.getClassLoader(),
            new Class<?>[] {MeteringLedger.class},
            (proxy, method, args) -> {
              Object result;
              try {
                result = method.invoke(real, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
              if (!method.getName().equals("recordIntent")) {
                return result;
              }
              ChargeIntent intent = (ChargeIntent) result;
              return new ChargeIntent() {
                @Override
                public boolean awaitDurable(Duration timeout) {
                  awaited.incrementAndGet();
                  try {
                    Thread.sleep(timeout);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                  return false;
                }

                @Override
                public ChargeResult charge(ChargeRequest request) {
                  return intent.charge(request);
                }

                @Override
                public void close() {
                  intent.close();
                }
              };
            });
  }
}

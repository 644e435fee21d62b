package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * One funded account cannot take every upstream slot: with {@code limits.max-concurrent-per-key: 2}
 * and {@code limits.max-concurrent-per-account: 3}, an account at its limit gets 429 {@code
 * too_many_concurrent_requests} with {@code Retry-After} while another account is served, and is
 * served again once its calls end; every way a call ends (plain, stream, client gone, upstream
 * error, refused for credit) gives its slot back, so the in-flight gauge returns to 0.
 */
class ConcurrencyLimitTest extends GatewayTestSupport {

  private static final long FUNDS = 10_000_000;

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "limits.max-concurrent-per-key",
        "2",
        "limits.max-concurrent-per-account",
        "3");
  }

  @Test
  void anAccountAtItsLimitGets429WhileAnotherIsServedAndIsServedAgainAfterwards() throws Exception {
    String a = account();
    String a1 = userKey(a, FUNDS);
    String a2 = server.keys().create(ApiKey.Kind.USER, a, "second").secret();
    String b = userKey(account(), FUNDS);
    CountDownLatch release = upstream.holdStream();
    List<BufferedReader> streams = new ArrayList<>();
    try {
      streams.add(startStream(a1));
      streams.add(startStream(a1));

      HttpResponse<String> keyFull = post(a1, HELLO, Map.of());
      assertTooMany(keyFull);
      assertThat(keyFull.body()).contains("API key");

      streams.add(startStream(a2));
      HttpResponse<String> accountFull = post(a2, HELLO, Map.of());
      assertTooMany(accountFull);
      assertThat(accountFull.body()).contains("account '" + a + "'");

      // Another account is served meanwhile.
      assertThat(post(b, HELLO, Map.of()).statusCode()).isEqualTo(200);
      assertThat(inFlight("account")).isEqualTo(3.0);
      assertThat(inFlight("key")).isEqualTo(3.0);
      assertThat(upstream.requests).as("refused calls never reach the upstream").hasSize(4);
    } finally {
      release.countDown();
    }
    for (BufferedReader stream : streams) {
      drain(stream);
    }
    awaitNoSlotsHeld();
    assertThat(post(a1, HELLO, Map.of()).statusCode()).isEqualTo(200);
    assertThat(post(a2, HELLO, Map.of()).statusCode()).isEqualTo(200);
    awaitNoSlotsHeld();
  }

  @Test
  void everyWayACallEndsGivesItsSlotBack() throws Exception {
    String a = account();
    String key = userKey(a, FUNDS);

    // A client that leaves mid-stream: the gateway reads the upstream to its end, then releases.
    CountDownLatch release = upstream.holdStream();
    BufferedReader gone = startStream(key);
    assertThat(inFlight("key")).isEqualTo(1.0);
    gone.close();
    release.countDown();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> upstream.streamsFinished.get() == 1);
    awaitNoSlotsHeld();

    // An upstream error, plain and streamed.
    upstream.reset();
    upstream.failStatus = 500;
    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(500);
    assertThat(post(key, HELLO_STREAM, Map.of()).statusCode()).isEqualTo(500);
    upstream.reset();
    awaitNoSlotsHeld();

    // Refused for credit, and for a reused Idempotency-Key.
    String broke = userKey(account(), 0);
    assertThat(post(broke, HELLO, Map.of()).statusCode()).isEqualTo(402);
    assertThat(post(key, HELLO, Map.of("Idempotency-Key", "once-" + a)).statusCode())
        .isEqualTo(200);
    assertThat(post(key, HELLO, Map.of("Idempotency-Key", "once-" + a)).statusCode())
        .isEqualTo(409);
    awaitNoSlotsHeld();

    // No slot leaked: the key still gets both of its calls at once, and no third.
    CountDownLatch again = upstream.holdStream();
    List<BufferedReader> streams = new ArrayList<>();
    try {
      streams.add(startStream(key));
      streams.add(startStream(key));
      assertTooMany(post(key, HELLO, Map.of()));
    } finally {
      again.countDown();
    }
    for (BufferedReader stream : streams) {
      drain(stream);
    }
    awaitNoSlotsHeld();
  }

  private static void assertTooMany(HttpResponse<String> r) throws Exception {
    assertThat(r.statusCode()).isEqualTo(429);
    assertThat(r.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
    var error = JSON.readTree(r.body()).path("error");
    assertThat(error.path("code").asText()).isEqualTo("too_many_concurrent_requests");
    assertThat(error.path("type").asText()).isEqualTo("rate_limit_error");
    assertThat(error.path("message").asText()).isNotBlank();
  }

  private static void drain(BufferedReader stream) throws Exception {
    try (stream) {
      String line;
      String last = null;
      while ((line = stream.readLine()) != null) {
        if (!line.isEmpty()) {
          last = line;
        }
      }
      assertThat(last).isEqualTo("data: [DONE]");
    }
  }

  private double inFlight(String scope) throws Exception {
    return MetricsAndHealthTest.sum(
        MetricsAndHealthTest.parse(get("/metrics").body()),
        "creditgate_calls_in_flight",
        "scope=\"" + scope + "\"");
  }

  private void awaitNoSlotsHeld() {
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              assertThat(inFlight("key")).isZero();
              assertThat(inFlight("account")).isZero();
            });
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A Redis that stops answering (paused with {@code CLIENT PAUSE}, as an overloaded or stalled Redis
 * looks to the gateway) does not let an account through that the gateway denied a moment before; an
 * account it never denied fails open as before.
 */
class RememberedDenialTest extends GatewayTestSupport {

  private static final long PAUSE_MILLIS = 2_000;

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "cache.redis-uri",
        TestBackends.REDIS_URI,
        "cache.redis-prefix",
        TestBackends.freshRedisPrefix("denials"));
  }

  @Test
  void stalledRedisStillDeniesAnAccountDeniedAMomentAgo() throws Exception {
    String broke = account();
    String brokeKey = userKey(broke, 0);
    String funded = account();
    String fundedKey = userKey(funded, 100_000);
    assertThat(post(brokeKey, HELLO, Map.of()).statusCode()).isEqualTo(402);
    assertThat(post(fundedKey, HELLO, Map.of()).statusCode()).isEqualTo(200);
    Map<String, Double> before = MetricsAndHealthTest.parse(get("/metrics").body());

    RedisClient client = RedisClient.create(TestBackends.REDIS_URI);
    long pausedAt;
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().clientPause(PAUSE_MILLIS);
      pausedAt = System.nanoTime();
      HttpResponse<String> denied = post(brokeKey, HELLO, Map.of());
      HttpResponse<String> served = post(fundedKey, HELLO, Map.of());
      assertThat(System.nanoTime() - pausedAt)
          .as("both calls ran while Redis was paused")
          .isLessThan(PAUSE_MILLIS * 1_000_000);

      assertThat(denied.statusCode()).isEqualTo(402);
      assertThat(JSON.readTree(denied.body()).path("error").path("code").asText())
          .isEqualTo("credit_balance_blocked");
      assertThat(served.statusCode()).isEqualTo(200);
    } finally {
      client.shutdown();
    }
    Map<String, Double> after = MetricsAndHealthTest.parse(get("/metrics").body());
    String decisions = "creditgate_guard_decisions_total";
    assertThat(
            MetricsAndHealthTest.sum(
                    after, decisions, "reason=\"denied_recent_denial\"", "degraded=\"true\"")
                - MetricsAndHealthTest.sum(before, decisions, "reason=\"denied_recent_denial\""))
        .isEqualTo(1.0);
    assertThat(
            MetricsAndHealthTest.sum(after, decisions, "reason=\"fail_open_cache_error\"")
                - MetricsAndHealthTest.sum(before, decisions, "reason=\"fail_open_cache_error\""))
        .isEqualTo(1.0);
    // Leave Redis unpaused for the tests after this one.
    long left = PAUSE_MILLIS * 1_000_000 - (System.nanoTime() - pausedAt);
    if (left > 0) {
      Thread.sleep(left / 1_000_000 + 50);
    }
  }
}

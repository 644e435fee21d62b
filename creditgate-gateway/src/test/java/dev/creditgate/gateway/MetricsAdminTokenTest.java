package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * With {@code metrics.require-admin-token: true}, {@code /metrics} answers only the admin token.
 */
class MetricsAdminTokenTest extends GatewayTestSupport {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "metrics.require-admin-token",
        "true");
  }

  @Test
  void metricsAnswerOnlyTheAdminToken() throws Exception {
    for (String authorization :
        new String[] {
          null, "Bearer wrong-token-wrong-token", "Bearer " + ADMIN_TOKEN + "x", "Basic abc"
        }) {
      HttpResponse<String> r = getWith("/metrics", authorization);
      assertThat(r.statusCode()).as(authorization).isEqualTo(401);
      assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
      assertThat(JSON.readTree(r.body()).path("error").path("type").asText())
          .isEqualTo("invalid_request_error");
      assertThat(r.body()).doesNotContain("creditgate_");
    }
    String key = userKey(account(), 100_000);
    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    HttpResponse<String> ok = getWith("/metrics", "Bearer " + ADMIN_TOKEN);
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(
            MetricsAndHealthTest.sum(
                MetricsAndHealthTest.parse(ok.body()),
                "creditgate_requests_total",
                "status=\"200\""))
        .isEqualTo(1.0);
    // The health endpoints are not affected.
    assertThat(get("/health/live").statusCode()).isEqualTo(200);
    assertThat(get("/health/ready").statusCode()).isEqualTo(200);
  }

  private HttpResponse<String> getWith(String path, String authorization) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code /metrics} is valid Prometheus text and its counters move; the health endpoints answer, and
 * only a caller with the admin token learns from {@code /health/ready} the upstream hosts and the
 * names of the API key variables.
 */
class MetricsAndHealthTest extends GatewayTestSupport {

  private static final Pattern SAMPLE =
      Pattern.compile(
          "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\",?)*\\})? "
              + "(-?[0-9.]+(?:[eE][+-]?[0-9]+)?|NaN|\\+Inf|-Inf)( -?[0-9]+)?");
  private static final Pattern TYPE =
      Pattern.compile(
          "# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)");

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        // An alias whose key variable is not set: its name must not be shown to anyone.
        "models.lite.base-url",
        "http://10.9.8.7:4000/v1",
        "models.lite.model",
        "lite-model",
        "models.lite.api-key-env",
        "LITE_UPSTREAM_KEY_VARIABLE");
  }

  /**
   * Parses Prometheus text format strictly: every line is a comment, a TYPE/HELP line or a sample.
   */
  static Map<String, Double> parse(String text) {
    Map<String, Double> samples = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (line.isEmpty()) {
        continue;
      }
      if (line.startsWith("# TYPE")) {
        assertThat(TYPE.matcher(line).matches()).as("TYPE line: %s", line).isTrue();
        continue;
      }
      if (line.startsWith("#")) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      assertThat(m.matches()).as("sample line: %s", line).isTrue();
      samples.put(
          m.group(1) + (m.group(2) == null ? "" : m.group(2)),
          Double.parseDouble(m.group(3).replace("+Inf", "Infinity")));
    }
    return samples;
  }

  static double sum(Map<String, Double> samples, String name, String... labels) {
    return samples.entrySet().stream()
        .filter(e -> e.getKey().equals(name) || e.getKey().startsWith(name + "{"))
        .filter(
            e -> {
              for (String l : labels) {
                if (!e.getKey().contains(l)) {
                  return false;
                }
              }
              return true;
            })
        .mapToDouble(Map.Entry::getValue)
        .sum();
  }

  @Test
  void metricsParseAndCountersMoveWithCalls() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    String broke = account();
    String brokeKey = userKey(broke, 0);
    HttpResponse<String> first = get("/metrics");
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
    Map<String, Double> before = parse(first.body());

    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    assertThat(post(key, HELLO_STREAM, Map.of()).statusCode()).isEqualTo(200);
    assertThat(post(brokeKey, HELLO, Map.of()).statusCode()).isEqualTo(402);
    assertThat(post(key, HELLO.replace("\"pro\"", "\"nope\""), Map.of()).statusCode())
        .isEqualTo(404);

    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(5))
        .until(
            () ->
                sum(parse(get("/metrics").body()), "creditgate_credits_charged_total")
                        - sum(before, "creditgate_credits_charged_total")
                    >= 2 * expectedCredits);
    Map<String, Double> after = parse(get("/metrics").body());
    String ok = "creditgate_requests_total";
    assertThat(
            sum(after, ok, "alias=\"pro\"", "status=\"200\"")
                - sum(before, ok, "alias=\"pro\"", "status=\"200\""))
        .isEqualTo(2.0);
    assertThat(sum(after, ok, "status=\"402\"") - sum(before, ok, "status=\"402\"")).isEqualTo(1.0);
    assertThat(sum(after, ok, "alias=\"unknown\"", "status=\"404\"")).isEqualTo(1.0);
    String guard = "creditgate_guard_decisions_total";
    assertThat(
            sum(after, guard, "outcome=\"admitted\"") - sum(before, guard, "outcome=\"admitted\""))
        .isEqualTo(2.0);
    assertThat(sum(after, guard, "outcome=\"denied\"") - sum(before, guard, "outcome=\"denied\""))
        .isEqualTo(1.0);
    assertThat(sum(after, "creditgate_guard_decision_latency_seconds_count"))
        .isGreaterThanOrEqualTo(3.0);
    assertThat(sum(after, "creditgate_upstream_latency_seconds_count", "phase=\"total\""))
        .isEqualTo(2.0);
    // Written behind the answer (ledger.write-behind, the default): accepted as queued.
    assertThat(
            sum(
                after,
                "creditgate_charges_total",
                "status=\"queued\"",
                "estimated=\"false\"",
                "unpriced=\"false\""))
        .isEqualTo(2.0);
    assertThat(
            sum(after, "creditgate_credits_charged_total")
                - sum(before, "creditgate_credits_charged_total"))
        .isEqualTo(2.0 * expectedCredits);
    assertThat(after).containsKey("creditgate_ledger_spool_size");
    // The group-commit counters read the ledger through a supplier that Micrometer holds weakly;
    // they must still count after a collection.
    System.gc();
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(5))
        .until(
            () ->
                sum(parse(get("/metrics").body()), "creditgate_ledger_group_commit_charges_total")
                        - sum(before, "creditgate_ledger_group_commit_charges_total")
                    >= 2.0);
    Map<String, Double> collected = parse(get("/metrics").body());
    assertThat(
            sum(collected, "creditgate_ledger_group_commit_charges_total")
                - sum(before, "creditgate_ledger_group_commit_charges_total"))
        .isEqualTo(2.0);
    assertThat(sum(collected, "creditgate_ledger_group_commits_total")).isGreaterThanOrEqualTo(1.0);
  }

  @Test
  void healthEndpointsReportLedgerCacheAndUpstreams() throws Exception {
    HttpResponse<String> live = get("/health/live");
    assertThat(live.statusCode()).isEqualTo(200);
    HttpResponse<String> ready = getWith("/health/ready", "Bearer " + ADMIN_TOKEN);
    assertThat(ready.statusCode()).isEqualTo(200);
    var body = JSON.readTree(ready.body());
    assertThat(body.path("status").asText()).isEqualTo("ready");
    assertThat(body.path("ledger").asText()).isEqualTo("up");
    assertThat(body.path("cache").asText()).isEqualTo("up");
    assertThat(body.path("upstreams").path("pro").asText()).isEqualTo("ready");
    assertThat(body.path("upstreams").path("max").asText())
        .startsWith("not_ready")
        .contains("127.0.0.1:1");
    assertThat(body.path("upstreams").path("lite").asText()).contains("LITE_UPSTREAM_KEY_VARIABLE");
  }

  @Test
  void readinessWithoutTheAdminTokenIsAPlainStatus() throws Exception {
    for (String authorization :
        new String[] {
          null, "Bearer wrong-token-wrong-token", "Bearer " + ADMIN_TOKEN + "x", "Basic abc"
        }) {
      HttpResponse<String> ready = getWith("/health/ready", authorization);
      assertThat(ready.statusCode()).as(authorization).isEqualTo(200);
      assertThat(JSON.readTree(ready.body()))
          .as(authorization)
          .isEqualTo(JSON.readTree("{\"status\":\"ready\"}"));
      assertThat(ready.body())
          .doesNotContain("127.0.0.1")
          .doesNotContain("10.9.8.7")
          .doesNotContain("LITE_UPSTREAM_KEY_VARIABLE")
          .doesNotContain("upstreams");
    }
  }

  @Test
  void metricsNeedNoTokenByDefault() throws Exception {
    assertThat(get("/metrics").statusCode()).isEqualTo(200);
    assertThat(getWith("/metrics", "Bearer wrong-token-wrong-token").statusCode()).isEqualTo(200);
  }

  HttpResponse<String> getWith(String path, String authorization) throws Exception {
    java.net.http.HttpRequest.Builder b =
        java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + path))
            .timeout(java.time.Duration.ofSeconds(20));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}

package dev.creditgate.gateway;

import static dev.creditgate.gateway.MetricsAndHealthTest.parse;
import static dev.creditgate.gateway.MetricsAndHealthTest.sum;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code /metrics} carries the JVM's and the process's meters and the OpenTelemetry GenAI client
 * metrics, with the conventions' names, units and attributes, moved by real calls.
 */
class TelemetryMetricsTest extends GatewayTestSupport {

  private static final String CHAT = "gen_ai_operation_name=\"chat\"",
      PROVIDER = "gen_ai_provider_name=\"testai\"",
      MODEL = "gen_ai_request_model=\"test-model-pro\"";

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }

  @Test
  void jvmAndProcessMetricsAreExposed() throws Exception {
    Map<String, Double> samples = parse(get("/metrics").body());
    assertThat(sum(samples, "jvm_memory_used_bytes", "area=\"heap\"")).isPositive();
    assertThat(sum(samples, "jvm_memory_max_bytes", "area=\"heap\"")).isPositive();
    assertThat(sum(samples, "jvm_threads_live_threads")).isPositive();
    assertThat(sum(samples, "jvm_classes_loaded_classes")).isPositive();
    assertThat(samples.keySet()).anyMatch(k -> k.startsWith("jvm_gc_memory_allocated_bytes_total"));
    assertThat(samples.keySet()).anyMatch(k -> k.startsWith("jvm_info{"));
    assertThat(samples).containsKey("process_cpu_usage");
    assertThat(sum(samples, "system_cpu_count")).isPositive();
    assertThat(sum(samples, "process_files_open_files")).isPositive();
    assertThat(sum(samples, "process_files_max_files"))
        .isGreaterThanOrEqualTo(sum(samples, "process_files_open_files"));
    assertThat(sum(samples, "process_uptime_seconds")).isPositive();
  }

  @Test
  void genAiMetricsCountEachCallsTokensAndDuration() throws Exception {
    String key = userKey(account(), 1_000_000);
    Map<String, Double> before = parse(get("/metrics").body());

    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    assertThat(post(key, HELLO_STREAM, Map.of()).statusCode()).isEqualTo(200);
    // Answered 503 by the upstream: an operation with an error, and no tokens.
    upstream.failStatus = 503;
    int failed = post(key, HELLO, Map.of()).statusCode();
    upstream.failStatus = 0;
    assertThat(failed).isGreaterThanOrEqualTo(500);

    Map<String, Double> after = parse(get("/metrics").body());
    String usage = "gen_ai_client_token_usage";
    String input = "gen_ai_token_type=\"input\"";
    String output = "gen_ai_token_type=\"output\"";
    assertThat(delta(before, after, usage + "_count", CHAT, PROVIDER, MODEL, input)).isEqualTo(2);
    assertThat(delta(before, after, usage + "_sum", CHAT, PROVIDER, MODEL, input))
        .isEqualTo(2.0 * TestUpstream.PROMPT);
    assertThat(delta(before, after, usage + "_sum", CHAT, PROVIDER, MODEL, output))
        .isEqualTo(2.0 * TestUpstream.COMPLETION);
    // The conventions' buckets (powers of 4): 1,200 input tokens fall in le=4096, not le=1024.
    assertThat(delta(before, after, usage + "_bucket", MODEL, input, "le=\"4096.0\"")).isEqualTo(2);
    assertThat(delta(before, after, usage + "_bucket", MODEL, input, "le=\"1024.0\"")).isZero();

    String duration = "gen_ai_client_operation_duration_seconds";
    assertThat(delta(before, after, duration + "_count", CHAT, PROVIDER, MODEL, "error_type=\"\""))
        .isEqualTo(2);
    assertThat(delta(before, after, duration + "_sum", MODEL)).isPositive();
    assertThat(delta(before, after, duration + "_count", MODEL, "error_type=\"" + failed + "\""))
        .isEqualTo(1);
    // Advised boundaries from 0.01 s: the test upstream answers all three well within 81.92 s.
    assertThat(delta(before, after, duration + "_bucket", MODEL, "le=\"81.92\"")).isEqualTo(3);
  }

  private static double delta(
      Map<String, Double> before, Map<String, Double> after, String name, String... labels) {
    return sum(after, name, labels) - sum(before, name, labels);
  }
}

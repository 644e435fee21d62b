package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * One trace per call, exported over OTLP/HTTP to a real HTTP receiver that decodes the protobuf the
 * OpenTelemetry SDK sends: the root span continues the client's {@code traceparent}, the steps are
 * its children in order, the trace id comes back in a header, and a call the client did not sample
 * is not exported.
 */
class TracingTest extends GatewayTestSupport {

  private static final HexFormat HEX = HexFormat.of();

  private HttpServer collector;
  private final List<Span> spans = new CopyOnWriteArrayList<>();
  private final List<String> serviceNames = new CopyOnWriteArrayList<>();

  @Override
  Map<String, String> backend(Path tmp) throws Exception {
    collector = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    collector.createContext(
        "/v1/traces",
        exchange -> {
          ExportTraceServiceRequest request =
              ExportTraceServiceRequest.parseFrom(exchange.getRequestBody().readAllBytes());
          for (ResourceSpans resource : request.getResourceSpansList()) {
            resource.getResource().getAttributesList().stream()
                .filter(a -> a.getKey().equals("service.name"))
                .forEach(a -> serviceNames.add(a.getValue().getStringValue()));
            for (ScopeSpans scope : resource.getScopeSpansList()) {
              spans.addAll(scope.getSpansList());
            }
          }
          byte[] answer = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
          exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
          exchange.sendResponseHeaders(200, answer.length);
          exchange.getResponseBody().write(answer);
          exchange.close();
        });
    collector.start();
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "telemetry.otlp-endpoint",
        "http://127.0.0.1:" + collector.getAddress().getPort() + "/v1/traces",
        "telemetry.trace-sample-ratio",
        "1",
        "telemetry.service-name",
        "creditgate-test");
  }

  @AfterAll
  void stopCollector() {
    if (collector != null) {
      collector.stop(0);
    }
  }

  @Test
  void aCallIsOneTraceUnderTheClientsParentWithItsStepsInOrder() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    String parentSpanId = "00f067aa0ba902b7";
    HttpResponse<String> answer =
        post(key, HELLO, Map.of("traceparent", "00-" + traceId + "-" + parentSpanId + "-01"));
    assertThat(answer.statusCode()).isEqualTo(200);
    assertThat(answer.headers().firstValue("X-Creditgate-Trace-Id")).contains(traceId);

    Map<String, Span> byName = awaitTrace(traceId, 5);
    Span root = byName.get("chat pro");
    assertThat(root.getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_SERVER);
    assertThat(HEX.formatHex(root.getParentSpanId().toByteArray())).isEqualTo(parentSpanId);
    assertThat(string(root, "creditgate.request_id"))
        .contains(answer.headers().firstValue("X-Request-Id").orElseThrow());
    assertThat(string(root, "creditgate.account_id")).contains(account);
    assertThat(number(root, "creditgate.charged_credits")).contains(expectedCredits);
    assertThat(number(root, "http.response.status_code")).contains(200L);

    List<Span> steps =
        List.of(
            byName.get("authenticate"),
            byName.get("admit"),
            byName.get("upstream"),
            byName.get("settle"));
    long previousEnd = root.getStartTimeUnixNano();
    for (Span step : steps) {
      assertThat(step.getParentSpanId()).as(step.getName()).isEqualTo(root.getSpanId());
      assertThat(step.getStartTimeUnixNano())
          .as(step.getName())
          .isGreaterThanOrEqualTo(previousEnd);
      assertThat(step.getEndTimeUnixNano())
          .as(step.getName())
          .isGreaterThanOrEqualTo(step.getStartTimeUnixNano())
          .isLessThanOrEqualTo(root.getEndTimeUnixNano());
      previousEnd = step.getEndTimeUnixNano();
    }
    Span upstream = byName.get("upstream");
    assertThat(upstream.getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_CLIENT);
    assertThat(string(upstream, "gen_ai.request.model")).contains("test-model-pro");
    assertThat(string(upstream, "gen_ai.provider.name")).contains("testai");
    assertThat(number(upstream, "gen_ai.usage.input_tokens")).contains(TestUpstream.PROMPT);
    assertThat(number(upstream, "gen_ai.usage.output_tokens")).contains(TestUpstream.COMPLETION);
    assertThat(serviceNames).contains("creditgate-test");
  }

  @Test
  void aStreamWithoutAParentStartsItsOwnTraceAndADeniedCallHasNoUpstreamSpan() throws Exception {
    String key = userKey(account(), 1_000_000);
    HttpResponse<String> stream = post(key, HELLO_STREAM, Map.of());
    assertThat(stream.statusCode()).isEqualTo(200);
    String streamTrace = stream.headers().firstValue("X-Creditgate-Trace-Id").orElseThrow();
    assertThat(streamTrace).matches("[0-9a-f]{32}");
    Map<String, Span> streamed = awaitTrace(streamTrace, 5);
    assertThat(streamed.get("chat pro").getParentSpanId().isEmpty()).isTrue();
    assertThat(number(streamed.get("upstream"), "gen_ai.usage.output_tokens"))
        .contains(TestUpstream.COMPLETION);

    String brokeKey = userKey(account(), 0);
    HttpResponse<String> denied = post(brokeKey, HELLO, Map.of());
    assertThat(denied.statusCode()).isEqualTo(402);
    String deniedTrace = denied.headers().firstValue("X-Creditgate-Trace-Id").orElseThrow();
    Map<String, Span> refused = awaitTrace(deniedTrace, 3);
    assertThat(refused).containsOnlyKeys("chat pro", "authenticate", "admit");
    assertThat(number(refused.get("chat pro"), "http.response.status_code")).contains(402L);
  }

  @Test
  void aCallTheClientDidNotSampleIsNotExported() throws Exception {
    String key = userKey(account(), 1_000_000);
    String traceId = "0af7651916cd43dd8448eb211c80319c";
    HttpResponse<String> answer =
        post(key, HELLO, Map.of("traceparent", "00-" + traceId + "-b7ad6b7169203331-00"));
    assertThat(answer.statusCode()).isEqualTo(200);
    assertThat(answer.headers().firstValue("X-Creditgate-Trace-Id")).isEmpty();
    // A sampled call after it is exported; the unsampled one never is.
    String later =
        post(key, HELLO, Map.of()).headers().firstValue("X-Creditgate-Trace-Id").orElseThrow();
    awaitTrace(later, 5);
    assertThat(spans).noneMatch(s -> HEX.formatHex(s.getTraceId().toByteArray()).equals(traceId));
  }

  @Test
  void badTelemetrySettingsAreRefusedNamingTheKey() {
    assertThatThrownBy(
            () ->
                GatewayConfig.fromProperties(
                    Map.of("telemetry.otlp-endpoint", "ftp://collector/v1/traces"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("telemetry.otlp-endpoint")
        .hasMessageContaining("ftp://collector/v1/traces");
    assertThatThrownBy(
            () ->
                GatewayConfig.fromProperties(
                    Map.of("telemetry.trace-sample-ratio", "1.5"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("telemetry.trace-sample-ratio");
    assertThatThrownBy(
            () ->
                GatewayConfig.fromProperties(
                    Map.of("telemetry.trace-sample-ratio", "half"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'half'");
    assertThat(GatewayConfig.defaults().telemetry().tracing()).isFalse();
    // A collector's address alone gets the OTLP/HTTP traces path.
    assertThat(
            GatewayConfig.fromProperties(
                    Map.of("telemetry.otlp-endpoint", "http://collector:4318/"), Map.of())
                .telemetry()
                .otlpEndpoint())
        .isEqualTo("http://collector:4318/v1/traces");
  }

  /** The spans of one trace by name, once {@code count} of them have arrived. */
  private Map<String, Span> awaitTrace(String traceId, int count) {
    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> trace(traceId).size() >= count);
    Map<String, Span> byName = trace(traceId);
    assertThat(byName).hasSize(count);
    return byName;
  }

  private Map<String, Span> trace(String traceId) {
    return spans.stream()
        .filter(s -> HEX.formatHex(s.getTraceId().toByteArray()).equals(traceId))
        .collect(Collectors.toMap(Span::getName, s -> s, (a, b) -> a));
  }

  private static Optional<String> string(Span span, String key) {
    return attribute(span, key).map(AnyValue::getStringValue);
  }

  private static Optional<Long> number(Span span, String key) {
    return attribute(span, key).map(AnyValue::getIntValue);
  }

  private static Optional<AnyValue> attribute(Span span, String key) {
    return span.getAttributesList().stream()
        .filter(a -> a.getKey().equals(key))
        .map(KeyValue::getValue)
        .findFirst();
  }
}

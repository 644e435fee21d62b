package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import com.sun.net.httpserver.HttpServer;
import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.internal.UpstreamRouter.Route;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The upstream call over real HTTP: what the upstream is sent, and the order of the call's steps.
 */
class CallUpstreamTest {

  private final List<String> events = new ArrayList<>();
  private final AtomicReference<JsonNode> received = new AtomicReference<>();
  private HttpServer server;
  private ScheduledExecutorService timer;
  private UpstreamClient client;
  private CallUpstream step;

  @BeforeEach
  void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/v1/chat/completions",
        exchange -> {
          received.set(Json.MAPPER.readTree(exchange.getRequestBody().readAllBytes()));
          byte[] answer = "{\"ok\":true}".getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, answer.length);
          exchange.getResponseBody().write(answer);
          exchange.close();
        });
    server.start();
    timer = Executors.newSingleThreadScheduledExecutor();
    client =
        new UpstreamClient(
            Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(2), timer);
    GatewayMetrics metrics = new GatewayMetrics(new SimpleMeterRegistry());
    step =
        new CallUpstream(
            client,
            null,
            null,
            new SettleUsage(new TokenEstimator(), metrics, Ticker.systemTicker()),
            metrics,
            Ticker.systemTicker());
  }

  @AfterEach
  void stop() {
    client.close();
    timer.shutdownNow();
    server.stop(0);
  }

  private CallExchange exchange(int port, String body, boolean stream) throws Exception {
    CallExchange x = new CallExchange(null, ChatApi.INSTANCE);
    x.request = (ObjectNode) Json.MAPPER.readTree(body);
    x.stream = stream;
    x.route =
        new Route(
            new ModelRoute("pro", "http://127.0.0.1:" + port + "/v1", "", "openai", "gpt-x"),
            Map.of(
                "/chat/completions",
                URI.create("http://127.0.0.1:" + port + "/v1/chat/completions")),
            "");
    x.billing = BillingContext.forAccount("acme");
    x.call = new OrderCall();
    return x;
  }

  @Test
  void theUpstreamGetsTheProviderModelAndTheCallIsDurableBeforeAnythingIsRelayed()
      throws Exception {
    CallExchange x =
        exchange(server.getAddress().getPort(), "{\"model\":\"pro\",\"messages\":[]}", false);
    step.process(
        x,
        next -> {
          events.add("relay " + next.upstream.status());
        });
    assertThat(events).containsExactly("beforeRelay", "relay 200");
    assertThat(received.get().path("model").asText()).isEqualTo("gpt-x");
    assertThat(received.get().has("stream_options")).isFalse();
    assertThat(x.upstream).as("closed after the rest of the chain").isNull();
  }

  @Test
  void aStreamAsksTheUpstreamForUsageWhateverTheClientAsked() throws Exception {
    CallExchange x =
        exchange(
            server.getAddress().getPort(),
            "{\"model\":\"pro\",\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":false}}",
            true);
    step.process(x, next -> {});
    assertThat(received.get().path("stream_options").path("include_usage").asBoolean()).isTrue();
  }

  @Test
  void anUpstreamThatCannotBeReachedIs502AndNothingIsRelayed() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    CallExchange x = exchange(closedPort, "{\"model\":\"pro\",\"messages\":[]}", false);
    assertThatThrownBy(() -> step.process(x, next -> events.add("relay")))
        .isInstanceOfSatisfying(
            ApiError.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.code()).isEqualTo("upstream_unavailable");
            });
    assertThat(events).isEmpty();
  }

  private final class OrderCall implements MeteredCall {
    @Override
    public Admission admission() {
      return Admission.of(Admission.Reason.BALANCE_POSITIVE);
    }

    @Override
    public boolean metered() {
      return true;
    }

    @Override
    public void beforeRelay() {
      events.add("beforeRelay");
    }

    @Override
    public Settlement settle(Usage usage, UsageSource source) {
      return Settlement.abandoned();
    }

    @Override
    public void abandon(String reason) {}

    @Override
    public void close() {}
  }
}

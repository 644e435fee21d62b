package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.sim.SimulatedUpstream;
import dev.creditgate.sim.SimulatorStats;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Stopping the gateway (what SIGTERM does) while calls to a slow SIMULATED upstream are in flight:
 * new calls are refused, the calls in flight finish within {@code server.shutdown-timeout}, and
 * each is charged exactly once, as the ledger shows when it is opened again after the stop. A call
 * still running at the timeout is cut and charged once for what it served.
 */
abstract class AbstractStopWithCallsInFlightTest {

  static final String ADMIN_TOKEN = "stop-in-flight-admin-token-0123";
  static final ObjectMapper JSON = new ObjectMapper();
  static final String PLAIN =
      "{\"model\":\"pro\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
  static final String STREAM =
      "{\"model\":\"pro\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Say"
          + " hello\"}]}";

  Path tmp;
  String ledgerUrl;
  SimulatedUpstream sim;
  GatewayServer server;
  String base;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** A ledger URL of a fresh database. */
  abstract String freshLedgerUrl(Path tmp) throws Exception;

  @BeforeEach
  void prepare() throws Exception {
    tmp = Files.createTempDirectory("creditgate-stop");
    ledgerUrl = freshLedgerUrl(tmp);
  }

  @AfterEach
  void stopAll() {
    if (server != null) {
      server.close();
    }
    if (sim != null) {
      sim.close();
    }
  }

  /** Starts the simulator and a gateway routing {@code pro} to it. */
  void start(SimulatedUpstream.Builder upstream, Duration shutdownTimeout) throws Exception {
    sim = upstream.build().start();
    Map<String, String> props = new HashMap<>();
    props.put("server.port", "0");
    props.put("server.shutdown-timeout", shutdownTimeout.toMillis() + "ms");
    props.put("admin.token", ADMIN_TOKEN);
    props.put("ledger.url", ledgerUrl);
    props.put("ledger.spool-dir", tmp.resolve("spool").toString());
    props.put("models.pro.base-url", sim.baseUrl());
    props.put("models.pro.model", "sim-pro");
    props.put("models.pro.provider", "simulator");
    props.put("models.pro.max-output-tokens", "100");
    server = GatewayServer.start(GatewayConfig.fromProperties(props, Map.of()), Map.of());
    base = "http://127.0.0.1:" + server.port();
    // A credit per input token and two per output token.
    server
        .ledger()
        .createPriceRule(new PriceRule(0, "", "", "", 1000, 2000, 0, 0, 1_000_000, 0, 0, true));
  }

  String funded(String account) {
    server.ledger().grant(account, 1_000_000, "g-" + UUID.randomUUID(), "test", "");
    return server.keys().create(ApiKey.Kind.USER, account, "").secret();
  }

  HttpRequest call(String key, String body, String eventId) {
    return HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
        .timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + key)
        .header("Idempotency-Key", eventId)
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build();
  }

  /** Stops the gateway on another thread, as a SIGTERM's shutdown hook does. */
  CompletableFuture<Void> stopInBackground() {
    return CompletableFuture.runAsync(server::close);
  }

  /**
   * The account's charges in the ledger opened again after the stop, once whatever the stop left in
   * the journal or the spool is written.
   */
  List<LedgerEntry> chargesAfterStop(String account) {
    try (JdbcCreditLedger reopened =
        JdbcCreditLedger.builder()
            .jdbcUrl(ledgerUrl)
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> reopened.stats().spoolPending() == 0);
      return reopened.entries(account, null, 100).items().stream()
          .filter(e -> e.kind() == EntryKind.CHARGE)
          .toList();
    }
  }

  @Test
  void aSlowPlainAnswerInFlightAtTheStopIsServedAndChargedOnce() throws Exception {
    start(SimulatedUpstream.builder().latency(Duration.ofMillis(2000)), Duration.ofSeconds(15));
    String account = "stop-plain-" + UUID.randomUUID();
    String key = funded(account);
    CompletableFuture<HttpResponse<String>> answer =
        http.sendAsync(call(key, PLAIN, "plain-1"), HttpResponse.BodyHandlers.ofString());
    await().atMost(Duration.ofSeconds(10)).until(() -> sim.stats().chatRequests() == 1);

    CompletableFuture<Void> stop = stopInBackground();
    Thread.sleep(300);
    assertThat(stop).as("the stop waits for the call in flight").isNotDone();

    HttpResponse<String> served = answer.get(20, TimeUnit.SECONDS);
    assertThat(served.statusCode()).isEqualTo(200);
    assertThat(served.body()).contains("creditgate-simulator");
    long charged =
        Long.parseLong(served.headers().firstValue("X-Creditgate-Charged").orElseThrow());
    stop.get(30, TimeUnit.SECONDS);

    SimulatorStats upstream = sim.stats();
    assertThat(chargesAfterStop(account))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.eventId()).isEqualTo("plain-1");
              assertThat(e.amount()).isEqualTo(-charged);
              assertThat(e.estimated()).isFalse();
              assertThat(e.usage().inputTokens()).isEqualTo(upstream.promptTokens());
              assertThat(e.usage().outputTokens()).isEqualTo(upstream.completionTokens());
            });
  }

  @Test
  void aSlowStreamInFlightAtTheStopIsRelayedToItsEndAndChargedOnce() throws Exception {
    start(SimulatedUpstream.builder().tokensPerSecond(20), Duration.ofSeconds(15));
    String account = "stop-stream-" + UUID.randomUUID();
    String key = funded(account);
    BufferedReader stream = open(call(key, STREAM, "stream-1"));

    CompletableFuture<Void> stop = stopInBackground();
    Thread.sleep(300);
    assertThat(stop).as("the stop waits for the stream in flight").isNotDone();

    List<String> rest = readToTheEnd(stream);
    assertThat(rest).contains("data: [DONE]");
    stop.get(30, TimeUnit.SECONDS);

    SimulatorStats upstream = sim.stats();
    assertThat(upstream.completedResponses()).isEqualTo(1);
    assertThat(chargesAfterStop(account))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.eventId()).isEqualTo("stream-1");
              assertThat(e.estimated()).isFalse();
              assertThat(e.usage().outputTokens()).isEqualTo(upstream.completionTokens());
            });
  }

  @Test
  void aStreamStillRunningAtTheShutdownTimeoutIsCutAndChargedOnceForWhatItServed()
      throws Exception {
    // At 2 tokens a second, the simulator's shortest answer (8 tokens) takes 4 s.
    start(SimulatedUpstream.builder().tokensPerSecond(2), Duration.ofMillis(1000));
    String account = "stop-cut-" + UUID.randomUUID();
    String key = funded(account);
    BufferedReader stream = open(call(key, STREAM, "cut-1"));

    long start = System.nanoTime();
    server.close();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    List<String> rest = new ArrayList<>();
    Throwable cut = catchThrowable(() -> rest.addAll(readToTheEnd(stream)));
    assertThat(cut == null ? rest : List.of())
        .as("the client never sees the end")
        .doesNotContain("data: [DONE]");

    assertThat(chargesAfterStop(account))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.eventId()).isEqualTo("cut-1");
              assertThat(e.estimated()).as("charged an estimate of what it served").isTrue();
              assertThat(e.usage().outputTokens()).isPositive();
            });
  }

  @Test
  void aNewCallDuringTheStopIsRefusedAndNotCharged() throws Exception {
    start(SimulatedUpstream.builder().latency(Duration.ofMillis(2000)), Duration.ofSeconds(15));
    String account = "stop-new-" + UUID.randomUUID();
    String key = funded(account);
    CompletableFuture<HttpResponse<String>> inFlight =
        http.sendAsync(call(key, PLAIN, "first"), HttpResponse.BodyHandlers.ofString());
    await().atMost(Duration.ofSeconds(10)).until(() -> sim.stats().chatRequests() == 1);
    CompletableFuture<Void> stop = stopInBackground();
    Thread.sleep(300);
    assertThat(stop).isNotDone();

    // A new client, so a new connection: the gateway no longer accepts any.
    HttpClient late = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    Throwable refused =
        catchThrowable(
            () -> {
              HttpResponse<String> r =
                  late.send(call(key, PLAIN, "second"), HttpResponse.BodyHandlers.ofString());
              assertThat(r.statusCode()).as("answered: " + r.body()).isNotEqualTo(200);
            });
    assertThat(inFlight.get(20, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    stop.get(30, TimeUnit.SECONDS);

    assertThat(sim.stats().chatRequests())
        .as("the new call never reached the upstream")
        .isEqualTo(1);
    assertThat(chargesAfterStop(account)).extracting(LedgerEntry::eventId).containsExactly("first");
    assertThat(refused).as("the connection is refused").isInstanceOf(ConnectException.class);
  }

  /** Opens a stream and returns its body once the first event arrived. */
  BufferedReader open(HttpRequest request) throws Exception {
    HttpResponse<java.io.InputStream> response =
        http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    BufferedReader reader =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
    assertThat(reader.readLine()).startsWith("data: ");
    return reader;
  }

  static List<String> readToTheEnd(BufferedReader reader) throws Exception {
    List<String> lines = new ArrayList<>();
    for (String line; (line = reader.readLine()) != null; ) {
      lines.add(line);
    }
    return lines;
  }
}

package dev.creditgate.sim;

import static dev.creditgate.sim.SimHttp.json;
import static dev.creditgate.sim.SimHttp.post;
import static dev.creditgate.sim.SimHttp.postStreaming;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class FaultTest {

  private static final Map<String, String> ANTHROPIC = Map.of("anthropic-version", "2023-06-01");

  /** Each protocol endpoint with a valid plain request and the headers it needs. */
  private static final List<Call> PLAIN =
      List.of(
          new Call(
              "/v1/chat/completions",
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
              Map.of()),
          new Call("/v1/responses", "{\"model\":\"m\",\"input\":\"hi\"}", Map.of()),
          new Call("/v1/embeddings", "{\"model\":\"m\",\"input\":\"hi\"}", Map.of()),
          new Call(
              "/v1/messages",
              "{\"model\":\"m\",\"max_tokens\":50,"
                  + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
              ANTHROPIC));

  record Call(String path, String body, Map<String, String> headers) {

    Call streaming() {
      return new Call(path, body.substring(0, body.length() - 1) + ",\"stream\":true}", headers);
    }

    boolean anthropic() {
      return path.equals("/v1/messages");
    }
  }

  private SimulatedUpstream sim;

  @BeforeEach
  void start() {
    sim = SimulatedUpstream.builder().build().start();
  }

  @AfterEach
  void stop() {
    sim.close();
  }

  private HttpResponse<String> send(Call call) throws Exception {
    return post(sim, call.path(), call.body(), call.headers());
  }

  @Test
  void statusFaultAnswersEveryProtocolInItsShapeUntilCleared() throws Exception {
    sim.fault(Fault.status(503));
    assertThat(sim.fault()).isEqualTo(Fault.status(503));
    for (Call call : PLAIN) {
      HttpResponse<String> response = send(call);
      assertThat(response.statusCode()).as(call.path()).isEqualTo(503);
      assertThat(response.headers().firstValue("Retry-After")).isEmpty();
      JsonNode body = json(response);
      if (call.anthropic()) {
        assertThat(body.get("type").asText()).isEqualTo("error");
        assertThat(body.get("error").get("type").asText()).isEqualTo("api_error");
      } else {
        assertThat(body.get("error").get("type").asText()).isEqualTo("server_error");
        assertThat(body.get("error").get("code").asText()).isEqualTo("simulated_failure");
      }
    }
    // The simulator's own endpoints and the model list are not faulted.
    assertThat(SimHttp.get(sim, "/v1/models").statusCode()).isEqualTo(200);
    assertThat(SimHttp.get(sim, "/health").statusCode()).isEqualTo(200);

    sim.fault(Fault.status(429));
    for (Call call : PLAIN) {
      HttpResponse<String> response = send(call);
      assertThat(response.statusCode()).isEqualTo(429);
      assertThat(response.headers().firstValue("Retry-After")).as(call.path()).hasValue("1");
      JsonNode error = json(response).get("error");
      assertThat(error.get("type").asText()).isEqualTo("rate_limit_error");
    }

    sim.fault(Fault.none());
    for (Call call : PLAIN) {
      assertThat(send(call).statusCode()).as(call.path()).isEqualTo(200);
    }
    SimulatorStats stats = sim.stats();
    assertThat(stats.injectedFaults()).isEqualTo(8);
    assertThat(stats.injectedFailures()).isZero();
    assertThat(stats.chatRequests()).isEqualTo(3);
    assertThat(stats.responsesRequests()).isEqualTo(3);
    assertThat(stats.embeddingsRequests()).isEqualTo(3);
    assertThat(stats.messagesRequests()).isEqualTo(3);
    // Counted after the answer is written, so the client may read it first.
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(sim.stats().completedResponses()).isEqualTo(4));
  }

  @Test
  void stallDelaysTheFirstByteOfEveryProtocolRequest() throws Exception {
    sim.fault(Fault.stallBeforeFirstByte(Duration.ofMillis(400)));
    for (Call call : List.of(PLAIN.get(2), PLAIN.get(3).streaming())) {
      long start = System.nanoTime();
      HttpResponse<InputStream> response =
          postStreaming(sim, call.path(), call.body(), call.headers());
      // send() returns once the status line and headers have arrived.
      long firstByteMs = (System.nanoTime() - start) / 1_000_000;
      response.body().close();
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(firstByteMs).as(call.path()).isGreaterThanOrEqualTo(400);
    }
    sim.fault(Fault.none());
    long start = System.nanoTime();
    assertThat(send(PLAIN.get(2)).statusCode()).isEqualTo(200);
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(400);
    assertThat(sim.stats().injectedFaults()).isEqualTo(2);
  }

  @Test
  void abortCutsEveryStreamAfterItsDeltasAndEveryPlainAnswerMidBody() throws Exception {
    sim.fault(Fault.abortAfterChunks(2));
    for (int i = 0; i < PLAIN.size(); i++) {
      Call plain = PLAIN.get(i);
      HttpResponse<InputStream> response =
          postStreaming(sim, plain.path(), plain.body(), plain.headers());
      assertThat(response.statusCode()).isEqualTo(200);
      assertThatThrownBy(() -> readAll(response.body()))
          .as("plain %s", plain.path())
          .isInstanceOf(IOException.class);
      if (plain.path().equals("/v1/embeddings")) {
        continue;
      }
      Call stream = plain.streaming();
      HttpResponse<InputStream> streamed =
          postStreaming(sim, stream.path(), stream.body(), stream.headers());
      StringBuilder read = new StringBuilder();
      assertThatThrownBy(() -> read.append(readAll(streamed.body())))
          .as("stream %s", stream.path())
          .isInstanceOf(IOException.class);
      assertThat(read.toString()).doesNotContain("usage");
    }
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(sim.stats().abortedResponses()).isEqualTo(7));
    assertThat(sim.stats().usageReports()).isZero();
    assertThat(sim.stats().injectedFaults()).isEqualTo(7);

    // At most the role chunk and the 2 deltas before the cut reach the client.
    Call chat = PLAIN.get(0).streaming();
    HttpResponse<InputStream> response =
        postStreaming(sim, chat.path(), chat.body(), chat.headers());
    StringBuilder lines = new StringBuilder();
    assertThatThrownBy(() -> lines.append(readAll(response.body())))
        .isInstanceOf(IOException.class);
    assertThat(lines.toString().split("\"content\":\"", -1).length - 1).isLessThanOrEqualTo(3);

    sim.fault(Fault.none());
    for (Call call : PLAIN) {
      assertThat(send(call.anthropic() ? call.streaming() : call).statusCode()).isEqualTo(200);
    }
  }

  private static String readAll(InputStream in) throws IOException {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void refuseClosesThePortAndClearingListensAgainOnTheSamePort() throws Exception {
    int port = sim.port();
    assertThat(send(PLAIN.get(0)).statusCode()).isEqualTo(200);

    sim.fault(Fault.refuseConnections());
    assertThat(sim.port()).isEqualTo(port);
    assertThatThrownBy(() -> connect(port)).isInstanceOf(ConnectException.class);

    sim.fault(Fault.none());
    connect(port);
    // A fresh client: the old one's pooled connections were closed with the listener.
    HttpClient fresh = HttpClient.newHttpClient();
    try {
      HttpResponse<String> response =
          fresh.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/embeddings"))
                  .POST(HttpRequest.BodyPublishers.ofString(PLAIN.get(2).body()))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).isEqualTo(200);
    } finally {
      fresh.close();
    }
    assertThat(sim.stats().embeddingsRequests()).isEqualTo(1);
  }

  @Test
  void aSimulatorCanStartRefusingAndTheCommandLineSetsTheFault() throws Exception {
    try (SimulatedUpstream refusing =
        SimulatedUpstream.fromArgs("--port", "0", "--fault", "refuse").build().start()) {
      int port = refusing.port();
      assertThatThrownBy(() -> connect(port)).isInstanceOf(ConnectException.class);
      refusing.fault(Fault.none());
      connect(port);
    }
    try (SimulatedUpstream failing =
        SimulatedUpstream.fromArgs("--port", "0", "--fault=429").build().start()) {
      assertThat(failing.fault()).isEqualTo(Fault.status(429));
      assertThat(post(failing, "/v1/embeddings", PLAIN.get(2).body(), Map.of()).statusCode())
          .isEqualTo(429);
    }
    assertThatThrownBy(() -> SimulatedUpstream.fromArgs("--fault", "sometimes"))
        .hasMessage(
            "fault must be none, a status 400-599, stall:MS, abort:N or refuse, but was"
                + " 'sometimes'");
  }

  private static void connect(int port) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
    }
  }

  @Test
  void theFaultEndpointSetsReadsAndClearsFaults() throws Exception {
    Object[][] cases = {
      {"{\"status\":429}", Fault.status(429), "429"},
      {"{\"stall_ms\":5000}", Fault.stallBeforeFirstByte(Duration.ofSeconds(5)), "stall:5000"},
      {"{\"abort_after_chunks\":3}", Fault.abortAfterChunks(3), "abort:3"},
      {"{}", Fault.none(), "none"},
    };
    for (Object[] c : cases) {
      HttpResponse<String> response = post(sim, "/sim/fault", (String) c[0], Map.of());
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(json(response).get("fault").asText()).isEqualTo(c[2]);
      assertThat(sim.fault()).isEqualTo(c[1]);
      assertThat(json(SimHttp.get(sim, "/sim/fault")).get("fault").asText()).isEqualTo(c[2]);
      assertThat(json(SimHttp.get(sim, "/sim/stats")).get("fault").asText()).isEqualTo(c[2]);
    }
    sim.fault(Fault.status(500));
    String[][] bad = {
      {"{\"refuse\":true}", "refuse"},
      {"{\"status\":200}", "between 400 and 599"},
      {"{\"stall_ms\":0}", "positive"},
      {"{\"abort_after_chunks\":-1}", "negative"},
      {"{\"status\":\"429\"}", "integer"},
      {"{\"colour\":1}", "unknown fault"},
      {"{\"status\":429,\"stall_ms\":5}", "the fault must be"},
      {"[1]", "the fault must be"},
      {"{nope", "JSON"},
    };
    for (String[] c : bad) {
      HttpResponse<String> response = post(sim, "/sim/fault", c[0], Map.of());
      assertThat(response.statusCode()).as(c[0]).isEqualTo(400);
      assertThat(json(response).get("error").get("message").asText()).contains(c[1]);
      assertThat(sim.fault()).isEqualTo(Fault.status(500));
    }
  }

  @Test
  void faultsAreValidatedValuesWithACommandLineForm() {
    assertThat(Fault.parse("429")).isEqualTo(Fault.status(429));
    assertThat(Fault.parse(" stall:250 "))
        .isEqualTo(Fault.stallBeforeFirstByte(Duration.ofMillis(250)));
    assertThat(Fault.parse("abort:0")).isEqualTo(Fault.abortAfterChunks(0));
    assertThat(Fault.parse("refuse")).isSameAs(Fault.refuseConnections());
    assertThat(Fault.parse("none")).isSameAs(Fault.none());
    for (Fault f :
        List.of(
            Fault.none(),
            Fault.status(503),
            Fault.stallBeforeFirstByte(Duration.ofMillis(7)),
            Fault.abortAfterChunks(4),
            Fault.refuseConnections())) {
      assertThat(Fault.parse(f.spec())).isEqualTo(f);
    }
    assertThatThrownBy(() -> Fault.status(200))
        .hasMessage("fault status must be between 400 and 599, but was 200");
    assertThatThrownBy(() -> Fault.stallBeforeFirstByte(Duration.ZERO))
        .hasMessage("fault stall must be positive, but was PT0S");
    assertThatThrownBy(() -> Fault.abortAfterChunks(-1))
        .hasMessage("fault abortAfterChunks must not be negative, but was -1");
    assertThatThrownBy(() -> Fault.parse("stall:soon"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'stall:soon'");
  }
}

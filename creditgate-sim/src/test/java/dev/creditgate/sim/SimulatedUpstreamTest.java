package dev.creditgate.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SimulatedUpstreamTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final String HELLO =
      "{\"model\":\"sim-pro\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello there, how are you today?\"}]}";

  private static SimulatedUpstream shared;
  private final List<SimulatedUpstream> started = new ArrayList<>();

  @BeforeAll
  static void startShared() {
    shared = SimulatedUpstream.builder().build().start();
  }

  @AfterAll
  static void stopShared() {
    shared.close();
  }

  @AfterEach
  void stopOwn() {
    started.forEach(SimulatedUpstream::close);
  }

  private SimulatedUpstream own(SimulatedUpstream.Builder builder) {
    SimulatedUpstream sim = builder.build().start();
    started.add(sim);
    return sim;
  }

  @Test
  void nonStreamingResponseHasTheOpenAiShapeAndRealisticUsage() throws Exception {
    HttpResponse<String> response = post(shared, HELLO, Map.of());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(response.headers().firstValue("X-Simulator")).hasValue("creditgate-simulator");
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("id").asText()).startsWith("chatcmpl-sim-");
    assertThat(body.get("object").asText()).isEqualTo("chat.completion");
    assertThat(body.get("model").asText()).isEqualTo("sim-pro");
    assertThat(body.get("system_fingerprint").asText()).isEqualTo("creditgate-simulator");
    assertThat(body.get("created").asLong()).isPositive();
    JsonNode choice = body.get("choices").get(0);
    assertThat(choice.get("message").get("role").asText()).isEqualTo("assistant");
    String content = choice.get("message").get("content").asText();
    assertThat(choice.get("finish_reason").asText()).isEqualTo("stop");

    JsonNode usage = body.get("usage");
    // 6 words -> ceil(6 * 4 / 3) = 8, plus 4 for the one message and 3 for priming.
    assertThat(usage.get("prompt_tokens").asInt()).isEqualTo(15);
    int words = content.split(" ").length;
    assertThat(words).isBetween(SimulatedText.MIN_WORDS, SimulatedText.MAX_WORDS);
    assertThat(usage.get("completion_tokens").asInt()).isEqualTo(words);
    assertThat(usage.get("total_tokens").asInt()).isEqualTo(15 + words);
    assertThat(usage.get("prompt_tokens_details").get("cached_tokens").asInt()).isZero();
    assertThat(usage.get("completion_tokens_details").get("reasoning_tokens").asInt()).isZero();
  }

  @Test
  void longPromptsReportCachedTokensAndHeadersOverrideDetails() throws Exception {
    String longText = "word ".repeat(1500);
    String body =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"" + longText + "\"}]}";
    JsonNode usage = JSON.readTree(post(shared, body, Map.of()).body()).get("usage");
    int prompt = usage.get("prompt_tokens").asInt();
    assertThat(prompt).isEqualTo(2000 + 4 + 3);
    assertThat(usage.get("prompt_tokens_details").get("cached_tokens").asInt()).isEqualTo(896);

    HttpResponse<String> response =
        post(
            shared,
            HELLO.replace("}]}", "}],\"max_tokens\":10}"),
            Map.of("X-Sim-Cached-Tokens", "7", "X-Sim-Reasoning-Tokens", "4"));
    JsonNode details = JSON.readTree(response.body());
    JsonNode u = details.get("usage");
    assertThat(u.get("prompt_tokens_details").get("cached_tokens").asInt()).isEqualTo(7);
    assertThat(u.get("completion_tokens_details").get("reasoning_tokens").asInt()).isEqualTo(4);
    // Reasoning counts towards completion tokens and the max_tokens budget.
    assertThat(u.get("completion_tokens").asInt()).isEqualTo(10);
    assertThat(details.get("choices").get(0).get("message").get("content").asText().split(" "))
        .hasSize(6);
  }

  @Test
  void streamSendsRoleContentFinishUsageAndDoneInOrder() throws Exception {
    String plain =
        JSON.readTree(post(shared, HELLO, Map.of()).body())
            .get("choices")
            .get(0)
            .get("message")
            .get("content")
            .asText();
    JsonNode plainUsage = JSON.readTree(post(shared, HELLO, Map.of()).body()).get("usage");

    String streamBody =
        HELLO.replace("}]}", "}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    HttpResponse<String> response = post(shared, streamBody, Map.of());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("text/event-stream");
    List<String> events = events(response.body());

    assertThat(events.getLast()).isEqualTo("[DONE]");
    List<JsonNode> chunks = new ArrayList<>();
    for (String data : events.subList(0, events.size() - 1)) {
      chunks.add(JSON.readTree(data));
    }
    JsonNode first = chunks.getFirst();
    assertThat(first.get("object").asText()).isEqualTo("chat.completion.chunk");
    assertThat(first.get("system_fingerprint").asText()).isEqualTo("creditgate-simulator");
    assertThat(first.get("choices").get(0).get("delta").get("role").asText())
        .isEqualTo("assistant");
    assertThat(first.get("usage").isNull()).isTrue();

    JsonNode usageChunk = chunks.getLast();
    assertThat(usageChunk.get("choices")).isEmpty();
    assertThat(usageChunk.get("usage")).isEqualTo(plainUsage);

    JsonNode finish = chunks.get(chunks.size() - 2);
    assertThat(finish.get("choices").get(0).get("finish_reason").asText()).isEqualTo("stop");
    assertThat(finish.get("choices").get(0).get("delta")).isEmpty();

    StringBuilder text = new StringBuilder();
    List<JsonNode> contentChunks = chunks.subList(1, chunks.size() - 2);
    for (JsonNode chunk : contentChunks) {
      assertThat(chunk.get("choices").get(0).get("finish_reason").isNull()).isTrue();
      text.append(chunk.get("choices").get(0).get("delta").get("content").asText());
    }
    assertThat(text.toString()).isEqualTo(plain);
    assertThat(contentChunks).hasSize(plainUsage.get("completion_tokens").asInt());
    assertThat(chunks.stream().map(c -> c.get("id").asText()).distinct()).hasSize(1);
  }

  @Test
  void streamWithoutIncludeUsageHasNoUsageChunk() throws Exception {
    HttpResponse<String> response =
        post(shared, HELLO.replace("}]}", "}],\"stream\":true}"), Map.of());
    List<String> events = events(response.body());
    assertThat(events.getLast()).isEqualTo("[DONE]");
    for (String data : events.subList(0, events.size() - 1)) {
      JsonNode chunk = JSON.readTree(data);
      assertThat(chunk.has("usage")).isFalse();
      assertThat(chunk.get("choices")).hasSize(1);
    }
  }

  @Test
  void answersAreDeterministicAndMaxTokensGivesAPrefix() throws Exception {
    String a1 = content(post(shared, HELLO, Map.of()));
    String a2 = content(post(shared, HELLO, Map.of()));
    String other = content(post(shared, HELLO.replace("today", "tonight"), Map.of()));
    String otherModel = content(post(shared, HELLO.replace("sim-pro", "sim-max"), Map.of()));
    assertThat(a1).isEqualTo(a2);
    assertThat(other).isNotEqualTo(a1);
    assertThat(otherModel).isNotEqualTo(a1);

    HttpResponse<String> limited =
        post(shared, HELLO.replace("}]}", "}],\"max_completion_tokens\":3}"), Map.of());
    JsonNode body = JSON.readTree(limited.body());
    assertThat(body.get("usage").get("completion_tokens").asInt()).isEqualTo(3);
    assertThat(body.get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
    String[] full = a1.split(" ");
    String[] prefix = content(limited).split(" ");
    assertThat(prefix).hasSize(3);
    assertThat(prefix[0]).isEqualTo(full[0]);
    assertThat(prefix[1]).isEqualTo(full[1]);
    assertThat(prefix[2]).isEqualTo(full[2].replace(".", "") + ".");
  }

  @Test
  void latencyIsHonouredBeforeTheFirstByte() throws Exception {
    SimulatedUpstream slow = own(SimulatedUpstream.builder().latency(Duration.ofMillis(300)));
    post(slow, HELLO, Map.of());
    long start = System.nanoTime();
    HttpResponse<String> response = post(slow, HELLO, Map.of());
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(elapsedMs).isGreaterThanOrEqualTo(300);

    start = System.nanoTime();
    post(slow, HELLO, Map.of("X-Sim-Latency-Ms", "0"));
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(300);
  }

  @Test
  void streamIsPacedAtTheTokenRateAndDeliveredIncrementally() throws Exception {
    SimulatedUpstream paced = own(SimulatedUpstream.builder().tokensPerSecond(25));
    String body = HELLO.replace("}]}", "}],\"stream\":true,\"max_tokens\":8}");
    HttpRequest request = request(paced, body, Map.of());
    long start = System.nanoTime();
    HttpResponse<InputStream> response =
        CLIENT.send(request, HttpResponse.BodyHandlers.ofInputStream());
    long firstContentAt = -1;
    long doneAt = -1;
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.contains("\"content\":\"")
            && !line.contains("\"content\":\"\"")
            && firstContentAt < 0) {
          firstContentAt = System.nanoTime();
        }
        if (line.equals("data: [DONE]")) {
          doneAt = System.nanoTime();
        }
      }
    }
    // 8 tokens at 25/s: the last one is due 320 ms after the first byte, the first at 40 ms.
    assertThat((doneAt - start) / 1_000_000).isGreaterThanOrEqualTo(320);
    assertThat((doneAt - firstContentAt) / 1_000_000).isGreaterThanOrEqualTo(150);
  }

  @Test
  void statsCountServedRequestsAndReportedUsage() throws Exception {
    SimulatedUpstream sim = own(SimulatedUpstream.builder());
    long prompt = 0;
    long completion = 0;
    for (int i = 0; i < 5; i++) {
      JsonNode usage =
          JSON.readTree(post(sim, HELLO.replace("today", "day " + i), Map.of()).body())
              .get("usage");
      prompt += usage.get("prompt_tokens").asLong();
      completion += usage.get("completion_tokens").asLong();
    }
    String stream =
        HELLO.replace("}]}", "}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    List<String> events = events(post(sim, stream, Map.of()).body());
    JsonNode streamUsage = JSON.readTree(events.get(events.size() - 2)).get("usage");
    prompt += streamUsage.get("prompt_tokens").asLong();
    completion += streamUsage.get("completion_tokens").asLong();
    assertThat(post(sim, HELLO, Map.of("X-Sim-No-Usage", "true")).body()).doesNotContain("usage");
    assertThat(post(sim, "{bad", Map.of()).statusCode()).isEqualTo(400);
    assertThat(post(sim, HELLO, Map.of("X-Sim-Fail", "500")).statusCode()).isEqualTo(500);

    SimulatorStats stats = sim.stats();
    assertThat(stats.chatRequests()).isEqualTo(9);
    assertThat(stats.completedResponses()).isEqualTo(7);
    assertThat(stats.streamedResponses()).isEqualTo(1);
    assertThat(stats.rejectedRequests()).isEqualTo(1);
    assertThat(stats.injectedFailures()).isEqualTo(1);
    assertThat(stats.usageReports()).isEqualTo(6);
    assertThat(stats.promptTokens()).isEqualTo(prompt);
    assertThat(stats.completionTokens()).isEqualTo(completion);

    JsonNode json = JSON.readTree(get(sim, "/sim/stats").body());
    assertThat(json.get("simulator").asText()).isEqualTo("creditgate-simulator");
    assertThat(json.get("chat_requests").asLong()).isEqualTo(9);
    assertThat(json.get("usage_reports").asLong()).isEqualTo(6);
    assertThat(json.get("prompt_tokens").asLong()).isEqualTo(prompt);
    assertThat(json.get("completion_tokens").asLong()).isEqualTo(completion);

    HttpResponse<String> reset =
        CLIENT.send(
            HttpRequest.newBuilder(URI.create(root(sim) + "/sim/stats/reset"))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(reset.statusCode()).isEqualTo(200);
    assertThat(sim.stats()).isEqualTo(new SimulatorStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  }

  @Test
  void badRequestsGetOpenAiStyleErrorsAndChangeNoUsage() throws Exception {
    SimulatedUpstream sim = own(SimulatedUpstream.builder());
    Object[][] cases = {
      {"{not json", Map.of(), 400, "invalid_json", null},
      {"[1,2]", Map.of(), 400, "invalid_json", null},
      {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        Map.of(),
        400,
        "missing_required_parameter",
        "model"
      },
      {"{\"model\":\"m\"}", Map.of(), 400, "missing_required_parameter", "messages"},
      {"{\"model\":\"m\",\"messages\":[]}", Map.of(), 400, "invalid_type", "messages"},
      {"{\"model\":\"m\",\"messages\":[\"hi\"]}", Map.of(), 400, "invalid_type", "messages[0]"},
      {HELLO.replace("}]}", "}],\"max_tokens\":0}"), Map.of(), 400, "invalid_value", "max_tokens"},
      {
        HELLO.replace("}]}", "}],\"max_tokens\":\"5\"}"),
        Map.of(),
        400,
        "invalid_value",
        "max_tokens"
      },
      {HELLO.replace("}]}", "}],\"stream\":\"yes\"}"), Map.of(), 400, "invalid_type", "stream"},
      {HELLO, Map.of("X-Sim-Fail", "abc"), 400, "invalid_header", null},
      {HELLO, Map.of("X-Sim-Fail", "200"), 400, "invalid_header", null},
      {HELLO, Map.of("X-Sim-Latency-Ms", "-1"), 400, "invalid_header", null},
    };
    for (Object[] c : cases) {
      @SuppressWarnings("unchecked")
      Map<String, String> headers = (Map<String, String>) c[1];
      HttpResponse<String> response = post(sim, (String) c[0], headers);
      assertThat(response.statusCode()).as("status for %s", c[0]).isEqualTo(c[2]);
      JsonNode error = JSON.readTree(response.body()).get("error");
      assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
      assertThat(error.get("code").asText()).as("code for %s", c[0]).isEqualTo(c[3]);
      assertThat(error.get("message").asText()).isNotBlank();
      if (c[4] == null) {
        assertThat(error.get("param").isNull()).isTrue();
      } else {
        assertThat(error.get("param").asText()).isEqualTo(c[4]);
      }
    }
    SimulatorStats stats = sim.stats();
    assertThat(stats.rejectedRequests()).isEqualTo(cases.length);
    assertThat(stats.usageReports()).isZero();
    assertThat(stats.completedResponses()).isZero();
  }

  @Test
  void bodyAboveTheLimitGets413() throws Exception {
    SimulatedUpstream sim = own(SimulatedUpstream.builder().maxBodyBytes(100));
    HttpResponse<String> response = post(sim, HELLO.replace("today", "x".repeat(200)), Map.of());
    assertThat(response.statusCode()).isEqualTo(413);
    assertThat(JSON.readTree(response.body()).get("error").get("code").asText())
        .isEqualTo("request_too_large");
  }

  @Test
  void injectedFailureReturnsTheStatusWithAnOpenAiErrorAndNoUsage() throws Exception {
    HttpResponse<String> response = post(shared, HELLO, Map.of("X-Sim-Fail", "503"));
    assertThat(response.statusCode()).isEqualTo(503);
    JsonNode error = JSON.readTree(response.body()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("server_error");
    assertThat(error.get("code").asText()).isEqualTo("simulated_failure");
    assertThat(error.get("message").asText()).contains("SIMULATED");

    HttpResponse<String> limited = post(shared, HELLO, Map.of("X-Sim-Fail", "429"));
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(JSON.readTree(limited.body()).get("error").get("type").asText())
        .isEqualTo("rate_limit_error");
  }

  @Test
  void abortAfterChunksDropsTheConnectionMidStream() throws Exception {
    SimulatedUpstream sim = own(SimulatedUpstream.builder());
    String body =
        HELLO.replace("}]}", "}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    HttpResponse<InputStream> response =
        CLIENT.send(
            request(sim, body, Map.of("X-Sim-Abort-After-Chunks", "2")),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    List<String> lines = new ArrayList<>();
    assertThatThrownBy(
            () -> {
              try (BufferedReader reader =
                  new BufferedReader(
                      new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                  lines.add(line);
                }
              }
            })
        .isInstanceOf(IOException.class);
    assertThat(lines).noneMatch(l -> l.contains("[DONE]") || l.contains("prompt_tokens"));
    // The reset can overtake chunks still in flight, so the client sees at most the 3 sent before
    // it.
    assertThat(lines.stream().filter(l -> l.startsWith("data: "))).hasSizeLessThanOrEqualTo(3);
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(sim.stats().abortedResponses()).isEqualTo(1));
    SimulatorStats stats = sim.stats();
    assertThat(stats.usageReports()).isZero();
    assertThat(stats.completedResponses()).isZero();

    // The server stays healthy for the next request.
    assertThat(post(sim, HELLO, Map.of()).statusCode()).isEqualTo(200);
  }

  @Test
  void aPlainAnswerCanBePaddedPastASize() throws Exception {
    SimulatedUpstream padded = own(SimulatedUpstream.builder().answerPaddingBytes(200_000));
    HttpResponse<String> response = post(padded, HELLO, Map.of());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body().length()).isGreaterThanOrEqualTo(200_000);
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.path("usage").path("completion_tokens").asInt()).isPositive();
    assertThat(content(response)).isEqualTo(content(post(shared, HELLO, Map.of())));
    String stream = HELLO.replace("}]}", "}],\"stream\":true}");
    assertThat(post(padded, stream, Map.of()).body().length()).isLessThan(200_000);
  }

  @Test
  void aPlainAnswerCanStallAfterItsHeaders() throws Exception {
    SimulatedUpstream stalling =
        own(SimulatedUpstream.builder().stallAfterHeaders(Duration.ofMillis(600)));
    long start = System.nanoTime();
    HttpResponse<InputStream> response =
        CLIENT.send(request(stalling, HELLO, Map.of()), HttpResponse.BodyHandlers.ofInputStream());
    long headersMs = (System.nanoTime() - start) / 1_000_000;
    byte[] body;
    try (InputStream in = response.body()) {
      body = in.readAllBytes();
    }
    long bodyMs = (System.nanoTime() - start) / 1_000_000;
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(headersMs).isLessThan(500);
    assertThat(bodyMs).isGreaterThanOrEqualTo(600);
    assertThat(JSON.readTree(body).path("usage").path("prompt_tokens").asInt()).isPositive();
    assertThatThrownBy(() -> SimulatedUpstream.builder().answerPaddingBytes(-1))
        .hasMessage("answerPaddingBytes must not be negative, but was -1");
    assertThatThrownBy(() -> SimulatedUpstream.builder().stallAfterHeaders(Duration.ofMillis(-1)))
        .hasMessage("stallAfterHeaders must not be negative, but was PT-0.001S");
  }

  @Test
  void modelsAreListedAndLabelledAsSimulated() throws Exception {
    JsonNode list = JSON.readTree(get(shared, "/v1/models").body());
    assertThat(list.get("object").asText()).isEqualTo("list");
    assertThat(list.get("data")).hasSize(3);
    assertThat(list.get("data").get(0).get("id").asText()).isEqualTo("sim-lite");
    assertThat(list.get("data").get(0).get("owned_by").asText()).isEqualTo("creditgate-simulator");
    assertThat(get(shared, "/v1/models/sim-max").statusCode()).isEqualTo(200);
    assertThat(get(shared, "/v1/models/gpt-9").statusCode()).isEqualTo(404);
    assertThat(get(shared, "/nope").statusCode()).isEqualTo(404);
    assertThat(get(shared, "/v1/chat/completions").statusCode()).isEqualTo(405);
  }

  @Test
  void apiKeyIsEnforcedWhenConfigured() throws Exception {
    SimulatedUpstream sim = own(SimulatedUpstream.builder().apiKey("sk-sim-secret"));
    assertThat(post(sim, HELLO, Map.of()).statusCode()).isEqualTo(401);
    assertThat(post(sim, HELLO, Map.of("Authorization", "Bearer wrong")).statusCode())
        .isEqualTo(401);
    assertThat(post(sim, HELLO, Map.of("Authorization", "Bearer sk-sim-secret")).statusCode())
        .isEqualTo(200);
    // The server counts after writing, so the client can read the answer first.
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              assertThat(sim.stats().rejectedRequests()).isEqualTo(2);
              assertThat(sim.stats().completedResponses()).isEqualTo(1);
            });
  }

  @Test
  void baseUrlAndLifecycle() {
    SimulatedUpstream sim = SimulatedUpstream.builder().build();
    assertThatThrownBy(sim::port).isInstanceOf(IllegalStateException.class);
    sim.start();
    assertThat(sim.baseUrl()).isEqualTo("http://127.0.0.1:" + sim.port() + "/v1");
    assertThatThrownBy(sim::start).isInstanceOf(IllegalStateException.class);
    sim.close();
    sim.close();
    assertThatThrownBy(sim::start)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void builderRejectsBadValuesNamingThem() {
    SimulatedUpstream.Builder b = SimulatedUpstream.builder();
    assertThatThrownBy(() -> b.port(70000))
        .hasMessage("port must be between 0 and 65535, but was 70000");
    assertThatThrownBy(() -> b.latency(Duration.ofMillis(-5)))
        .hasMessage("latency must not be negative, but was PT-0.005S");
    assertThatThrownBy(() -> b.tokensPerSecond(-1))
        .hasMessage("tokensPerSecond must not be negative, but was -1");
    assertThatThrownBy(() -> b.models(List.of())).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.maxBodyBytes(0)).hasMessageContaining("but was 0");
  }

  @Test
  void theRequestLogListsTheUserOfEveryCallTakenOn(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path log = dir.resolve("requests.txt");
    SimulatedUpstream sim =
        own(SimulatedUpstream.fromArgs("--port", "0", "--request-log", log.toString()));
    post(sim, HELLO.replace("}]}", "}],\"user\":\"call-1\"}"), Map.of());
    post(sim, HELLO.replace("}]}", "}],\"user\":\"call-2\",\"stream\":true}"), Map.of());
    post(sim, HELLO, Map.of());
    post(sim, HELLO.replace("}]}", "}],\"user\":\"fails\"}"), Map.of("X-Sim-Fail", "500"));
    assertThat(post(sim, "{bad", Map.of()).statusCode()).isEqualTo(400);
    // Written before the answer: every call taken on is listed once, a malformed one is not.
    assertThat(Files.readAllLines(log)).containsExactly("call-1", "call-2", "-", "fails");
  }

  @Test
  void commandLineOptionsAreParsedAndBadOnesNamed() throws Exception {
    SimulatedUpstream sim =
        own(
            SimulatedUpstream.fromArgs(
                "--port", "0", "--latency-ms=1", "--tokens-per-second", "1000", "--api-key", "k"));
    assertThat(post(sim, HELLO, Map.of("Authorization", "Bearer k")).statusCode()).isEqualTo(200);
    assertThat(SimulatedUpstream.fromArgs("--help")).isNull();
    assertThatThrownBy(() -> SimulatedUpstream.fromArgs("--latency-ms", "fast"))
        .hasMessage("--latency-ms must be an integer, but was 'fast'");
    assertThatThrownBy(() -> SimulatedUpstream.fromArgs("--colour", "red"))
        .hasMessage("unknown option '--colour'");
    assertThatThrownBy(() -> SimulatedUpstream.fromArgs("--port"))
        .hasMessage("option --port needs a value");
  }

  private static String content(HttpResponse<String> response) throws IOException {
    return JSON.readTree(response.body())
        .get("choices")
        .get(0)
        .get("message")
        .get("content")
        .asText();
  }

  private static List<String> events(String body) {
    List<String> events = new ArrayList<>();
    for (String block : body.split("\n\n")) {
      assertThat(block).startsWith("data: ");
      events.add(block.substring("data: ".length()));
    }
    return events;
  }

  private static String root(SimulatedUpstream sim) {
    return "http://127.0.0.1:" + sim.port();
  }

  private static HttpRequest request(
      SimulatedUpstream sim, String body, Map<String, String> headers) {
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/chat/completions"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    headers.forEach(builder::header);
    return builder.build();
  }

  private static HttpResponse<String> post(
      SimulatedUpstream sim, String body, Map<String, String> headers)
      throws IOException, InterruptedException {
    return CLIENT.send(request(sim, body, headers), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> get(SimulatedUpstream sim, String path)
      throws IOException, InterruptedException {
    return CLIENT.send(
        HttpRequest.newBuilder(URI.create(root(sim) + path))
            .timeout(Duration.ofSeconds(10))
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}

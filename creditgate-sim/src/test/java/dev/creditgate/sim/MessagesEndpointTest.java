package dev.creditgate.sim;

import static dev.creditgate.sim.SimHttp.events;
import static dev.creditgate.sim.SimHttp.json;
import static dev.creditgate.sim.SimHttp.naturalLength;
import static dev.creditgate.sim.SimHttp.post;
import static dev.creditgate.sim.SimHttp.postStreaming;
import static dev.creditgate.sim.SimHttp.promptTokens;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class MessagesEndpointTest {

  private static final String PATH = "/v1/messages";
  private static final Map<String, String> VERSION = Map.of("anthropic-version", "2023-06-01");
  private static final String HELLO =
      "{\"model\":\"claude-sim\",\"max_tokens\":100,\"system\":\"Be brief.\","
          + "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there, how are you today?\"}]}";

  /** What the simulator hashes for HELLO: the system prompt as a message, then the messages. */
  private static final String HELLO_COUNTED =
      "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
          + "{\"role\":\"user\",\"content\":\"Hello there, how are you today?\"}]";

  /** 2 + 6 words in 2 messages: ceil(8 x 4 / 3) = 11, plus 2 x 4, plus 3. */
  private static final int HELLO_PROMPT = 22;

  private static SimulatedUpstream sim;

  @BeforeAll
  static void start() {
    sim = SimulatedUpstream.builder().build().start();
  }

  @AfterAll
  static void stop() {
    sim.close();
  }

  private static Map<String, String> headers(String... pairs) {
    Map<String, String> headers = new HashMap<>(VERSION);
    for (int i = 0; i < pairs.length; i += 2) {
      headers.put(pairs[i], pairs[i + 1]);
    }
    return headers;
  }

  private static String with(String extra) {
    return HELLO.substring(0, HELLO.length() - 1) + "," + extra + "}";
  }

  private static String text(JsonNode message) {
    return message.get("content").get(0).get("text").asText();
  }

  @Test
  void plainAnswerIsAMessageWithOneTextBlockAndAnthropicUsage() throws Exception {
    int n = naturalLength("claude-sim", HELLO_COUNTED);
    assertThat(HELLO_PROMPT).isEqualTo(promptTokens(8, 2));

    HttpResponse<String> response = post(sim, PATH, HELLO, VERSION);

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = json(response);
    assertThat(body.properties().stream().map(Map.Entry::getKey).toList())
        .containsExactly(
            "id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage");
    assertThat(body.get("id").asText()).startsWith("msg_sim-");
    assertThat(response.headers().firstValue("request-id")).get().asString().startsWith("req_sim-");
    assertThat(body.get("type").asText()).isEqualTo("message");
    assertThat(body.get("role").asText()).isEqualTo("assistant");
    assertThat(body.get("model").asText()).isEqualTo("claude-sim");
    assertThat(body.get("content")).hasSize(1);
    assertThat(body.get("content").get(0).get("type").asText()).isEqualTo("text");
    assertThat(text(body).split(" ")).hasSize(n);
    assertThat(body.get("stop_reason").asText()).isEqualTo("end_turn");
    assertThat(body.get("stop_sequence").isNull()).isTrue();
    JsonNode usage = body.get("usage");
    assertThat(usage.get("input_tokens").asInt()).isEqualTo(HELLO_PROMPT);
    assertThat(usage.get("output_tokens").asInt()).isEqualTo(n);
    assertThat(usage.get("cache_creation_input_tokens").asInt()).isZero();
    assertThat(usage.get("cache_read_input_tokens").asInt()).isZero();
  }

  @Test
  void cacheTokensAreCutFromInputTokensAndCappedAtThePrompt() throws Exception {
    Object[][] cases = {
      // read, creation headers -> input, creation, read
      {"5", "7", 10, 7, 5},
      {"20", "100", 0, 2, 20},
      {"50", "0", 0, 0, 22},
      {"0", "22", 0, 22, 0},
    };
    for (Object[] c : cases) {
      JsonNode usage =
          json(post(
                  sim,
                  PATH,
                  HELLO,
                  headers(
                      "X-Sim-Cached-Tokens",
                      (String) c[0],
                      "X-Sim-Cache-Creation-Tokens",
                      (String) c[1])))
              .get("usage");
      assertThat(usage.get("input_tokens").asInt()).isEqualTo(c[2]);
      assertThat(usage.get("cache_creation_input_tokens").asInt()).isEqualTo(c[3]);
      assertThat(usage.get("cache_read_input_tokens").asInt()).isEqualTo(c[4]);
    }
  }

  @Test
  void blocksCountLikeStrings() throws Exception {
    String blocks =
        "{\"model\":\"claude-sim\",\"max_tokens\":100,"
            + "\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\"}],"
            + "\"messages\":[{\"role\":\"user\",\"content\":["
            + "{\"type\":\"text\",\"text\":\"Hello there,\"},"
            + "{\"type\":\"text\",\"text\":\"how are you today?\"}]}]}";
    assertThat(json(post(sim, PATH, blocks, VERSION)).get("usage").get("input_tokens").asInt())
        .isEqualTo(HELLO_PROMPT);
    String turns =
        "{\"model\":\"claude-sim\",\"max_tokens\":100,\"messages\":["
            + "{\"role\":\"user\",\"content\":\"one two\"},"
            + "{\"role\":\"assistant\",\"content\":\"three\"},"
            + "{\"role\":\"user\",\"content\":\"four five six\"}]}";
    // 6 words in 3 messages: 8 + 12 + 3.
    assertThat(json(post(sim, PATH, turns, VERSION)).get("usage").get("input_tokens").asInt())
        .isEqualTo(23);
  }

  @Test
  void streamSendsNamedEventsInOrderWithOneDeltaPerToken() throws Exception {
    JsonNode plain = json(post(sim, PATH, HELLO, VERSION));
    int n = plain.get("usage").get("output_tokens").asInt();

    HttpResponse<String> response = post(sim, PATH, with("\"stream\":true"), VERSION);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("text/event-stream");
    assertThat(response.body()).doesNotContain("[DONE]");
    List<SimHttp.Event> events = events(response.body());
    List<String> expected =
        new ArrayList<>(List.of("message_start", "content_block_start", "ping"));
    for (int i = 0; i < n; i++) {
      expected.add("content_block_delta");
    }
    expected.addAll(List.of("content_block_stop", "message_delta", "message_stop"));
    assertThat(events.stream().map(SimHttp.Event::name).toList()).isEqualTo(expected);
    events.forEach(e -> assertThat(e.data().get("type").asText()).isEqualTo(e.name()));

    JsonNode message = events.get(0).data().get("message");
    assertThat(message.get("id").asText()).startsWith("msg_sim-");
    assertThat(message.get("content")).isEmpty();
    assertThat(message.get("stop_reason").isNull()).isTrue();
    assertThat(message.get("usage").get("input_tokens").asInt()).isEqualTo(HELLO_PROMPT);
    assertThat(message.get("usage").get("output_tokens").asInt()).isEqualTo(1);
    assertThat(message.get("usage").get("cache_read_input_tokens").asInt()).isZero();
    JsonNode blockStart = events.get(1).data();
    assertThat(blockStart.get("index").asInt()).isZero();
    assertThat(blockStart.get("content_block").get("type").asText()).isEqualTo("text");
    assertThat(blockStart.get("content_block").get("text").asText()).isEmpty();

    StringBuilder text = new StringBuilder();
    for (SimHttp.Event event : events.subList(3, 3 + n)) {
      JsonNode delta = event.data();
      assertThat(delta.get("index").asInt()).isZero();
      assertThat(delta.get("delta").get("type").asText()).isEqualTo("text_delta");
      text.append(delta.get("delta").get("text").asText());
    }
    assertThat(text.toString()).isEqualTo(text(plain));
    JsonNode messageDelta = events.get(4 + n).data();
    assertThat(messageDelta.get("delta").get("stop_reason").asText()).isEqualTo("end_turn");
    assertThat(messageDelta.get("delta").get("stop_sequence").isNull()).isTrue();
    assertThat(messageDelta.get("usage").get("output_tokens").asInt()).isEqualTo(n);
  }

  @Test
  void maxTokensCutsTheAnswer() throws Exception {
    String full = text(json(post(sim, PATH, HELLO, VERSION)));
    String capped = HELLO.replace("\"max_tokens\":100", "\"max_tokens\":3");
    JsonNode plain = json(post(sim, PATH, capped, VERSION));
    assertThat(plain.get("stop_reason").asText()).isEqualTo("max_tokens");
    assertThat(plain.get("usage").get("output_tokens").asInt()).isEqualTo(3);
    String[] words = text(plain).split(" ");
    assertThat(words).hasSize(3);
    assertThat(full).startsWith(words[0] + " " + words[1] + " ");

    String stream = capped.substring(0, capped.length() - 1) + ",\"stream\":true}";
    List<SimHttp.Event> events = events(post(sim, PATH, stream, VERSION).body());
    assertThat(events.stream().filter(e -> e.name().equals("content_block_delta"))).hasSize(3);
    JsonNode messageDelta = events.get(events.size() - 2).data();
    assertThat(messageDelta.get("delta").get("stop_reason").asText()).isEqualTo("max_tokens");
    assertThat(messageDelta.get("usage").get("output_tokens").asInt()).isEqualTo(3);

    try (SimulatedUpstream ignoring =
        SimulatedUpstream.builder().ignoreMaxTokens(true).build().start()) {
      JsonNode natural = json(post(ignoring, PATH, capped, VERSION));
      assertThat(natural.get("stop_reason").asText()).isEqualTo("end_turn");
      assertThat(text(natural)).isEqualTo(full);
    }
  }

  @Test
  void answersAreDeterministicPerModelAndMessages() throws Exception {
    String a = text(json(post(sim, PATH, HELLO, VERSION)));
    assertThat(text(json(post(sim, PATH, HELLO, VERSION)))).isEqualTo(a);
    assertThat(text(json(post(sim, PATH, HELLO.replace("today", "tonight"), VERSION))))
        .isNotEqualTo(a);
    assertThat(text(json(post(sim, PATH, HELLO.replace("claude-sim", "claude-b"), VERSION))))
        .isNotEqualTo(a);
  }

  @Test
  void simHeadersFailInAnthropicShapeDropUsageAndAddReasoning() throws Exception {
    Map<Integer, String> types =
        Map.of(
            400, "invalid_request_error",
            401, "authentication_error",
            429, "rate_limit_error",
            500, "api_error",
            529, "overloaded_error");
    for (Map.Entry<Integer, String> t : types.entrySet()) {
      HttpResponse<String> failed =
          post(sim, PATH, HELLO, headers("X-Sim-Fail", t.getKey().toString()));
      assertThat(failed.statusCode()).isEqualTo(t.getKey());
      JsonNode body = json(failed);
      assertThat(body.get("type").asText()).isEqualTo("error");
      assertThat(body.get("error").get("type").asText()).isEqualTo(t.getValue());
      assertThat(body.get("error").get("message").asText()).contains("SIMULATED");
    }

    assertThat(json(post(sim, PATH, HELLO, headers("X-Sim-No-Usage", "true"))).has("usage"))
        .isFalse();
    List<SimHttp.Event> events =
        events(post(sim, PATH, with("\"stream\":true"), headers("X-Sim-No-Usage", "true")).body());
    assertThat(events.get(0).data().get("message").has("usage")).isFalse();
    assertThat(events.get(events.size() - 2).data().has("usage")).isFalse();

    String capped = HELLO.replace("\"max_tokens\":100", "\"max_tokens\":10");
    JsonNode reasoning = json(post(sim, PATH, capped, headers("X-Sim-Reasoning-Tokens", "4")));
    assertThat(reasoning.get("usage").get("output_tokens").asInt()).isEqualTo(10);
    assertThat(text(reasoning).split(" ")).hasSize(6);
  }

  @Test
  void abortAfterChunksDropsTheStreamBeforeMessageDelta() throws Exception {
    try (SimulatedUpstream own = SimulatedUpstream.builder().build().start()) {
      HttpResponse<InputStream> response =
          postStreaming(
              own, PATH, with("\"stream\":true"), headers("X-Sim-Abort-After-Chunks", "2"));
      assertThat(response.statusCode()).isEqualTo(200);
      StringBuilder read = new StringBuilder();
      assertThatThrownBy(
              () -> {
                try (InputStream in = response.body()) {
                  byte[] buffer = new byte[4096];
                  int got;
                  while ((got = in.read(buffer)) >= 0) {
                    read.append(new String(buffer, 0, got, StandardCharsets.UTF_8));
                  }
                }
              })
          .isInstanceOf(IOException.class);
      assertThat(read.toString()).doesNotContain("message_delta").doesNotContain("message_stop");
      assertThat(read.toString().split("event: content_block_delta", -1).length - 1)
          .isLessThanOrEqualTo(2);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(() -> assertThat(own.stats().abortedResponses()).isEqualTo(1));
      assertThat(own.stats().usageReports()).isZero();
    }
  }

  @Test
  void usageIsCountedAsTheWholePromptWithCacheDetails() throws Exception {
    try (SimulatedUpstream own = SimulatedUpstream.builder().build().start()) {
      JsonNode usage =
          json(post(
                  own,
                  PATH,
                  HELLO,
                  headers("X-Sim-Cached-Tokens", "5", "X-Sim-Cache-Creation-Tokens", "7")))
              .get("usage");
      SimulatorStats stats = own.stats();
      assertThat(stats.messagesRequests()).isEqualTo(1);
      assertThat(stats.chatRequests()).isZero();
      assertThat(stats.usageReports()).isEqualTo(1);
      assertThat(stats.promptTokens()).isEqualTo(HELLO_PROMPT);
      assertThat(stats.cachedTokens()).isEqualTo(5);
      assertThat(stats.cacheCreationTokens()).isEqualTo(7);
      assertThat(stats.completionTokens()).isEqualTo(usage.get("output_tokens").asLong());
    }
  }

  @Test
  void theRequestLogListsEveryProtocolCallTakenOn(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path log = dir.resolve("requests.txt");
    try (SimulatedUpstream own = SimulatedUpstream.builder().requestLog(log).build().start()) {
      post(own, PATH, with("\"metadata\":{\"user_id\":\"anthropic-1\"}"), VERSION);
      post(own, "/v1/responses", "{\"model\":\"m\",\"input\":\"x\",\"user\":\"r-1\"}", Map.of());
      post(own, "/v1/embeddings", "{\"model\":\"m\",\"input\":\"x\",\"user\":\"e-1\"}", Map.of());
      post(own, PATH, HELLO, headers("X-Sim-Fail", "500"));
      assertThat(post(own, PATH, "{}", VERSION).statusCode()).isEqualTo(400);
      // Written before the answer; a malformed call is not taken on.
      assertThat(Files.readAllLines(log)).containsExactly("anthropic-1", "r-1", "e-1", "-");
    }
  }

  @Test
  void badRequestsGetAnthropicErrorsNamingTheField() throws Exception {
    SimulatedUpstream own = SimulatedUpstream.builder().apiKey("sk-a").maxBodyBytes(500).build();
    own.start();
    try (own) {
      Map<String, String> ok = Map.of("anthropic-version", "2023-06-01", "x-api-key", "sk-a");
      String m = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
      Object[][] cases = {
        {HELLO, Map.of("x-api-key", "sk-a"), 400, "anthropic-version"},
        {HELLO, VERSION, 401, "x-api-key"},
        {HELLO, Map.of("anthropic-version", "1", "x-api-key", "wrong"), 401, "x-api-key"},
        {"{oops", ok, 400, "JSON"},
        {"{\"max_tokens\":5," + m + "}", ok, 400, "model:"},
        {"{\"model\":\"c\"," + m + "}", ok, 400, "max_tokens:"},
        {"{\"model\":\"c\",\"max_tokens\":0," + m + "}", ok, 400, "max_tokens:"},
        {"{\"model\":\"c\",\"max_tokens\":\"5\"," + m + "}", ok, 400, "max_tokens:"},
        {"{\"model\":\"c\",\"max_tokens\":5}", ok, 400, "messages:"},
        {"{\"model\":\"c\",\"max_tokens\":5,\"messages\":[]}", ok, 400, "messages:"},
        {
          "{\"model\":\"c\",\"max_tokens\":5,\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
          ok,
          400,
          "messages.0.role:"
        },
        {
          "{\"model\":\"c\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\"}]}",
          ok,
          400,
          "messages.0.content:"
        },
        {
          "{\"model\":\"c\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":5}]}",
          ok,
          400,
          "messages.0.content:"
        },
        {
          "{\"model\":\"c\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
          ok,
          400,
          "messages.0.content.0.text:"
        },
        {"{\"model\":\"c\",\"max_tokens\":5,\"system\":5," + m + "}", ok, 400, "system:"},
        {
          "{\"model\":\"c\",\"max_tokens\":5,\"system\":[{\"type\":\"image\"}]," + m + "}",
          ok,
          400,
          "system.0.type:"
        },
        {"{\"model\":\"c\",\"max_tokens\":5,\"stream\":\"yes\"," + m + "}", ok, 400, "stream"},
        {HELLO.replace("today", "x".repeat(500)), ok, 413, "exceeds"},
      };
      for (Object[] c : cases) {
        @SuppressWarnings("unchecked")
        Map<String, String> headers = (Map<String, String>) c[1];
        HttpResponse<String> response = post(own, PATH, (String) c[0], headers);
        String what = ((String) c[0]).substring(0, Math.min(70, ((String) c[0]).length()));
        assertThat(response.statusCode()).as("status for %s", what).isEqualTo(c[2]);
        JsonNode body = json(response);
        assertThat(body.get("type").asText()).isEqualTo("error");
        String type = ErrorShape.anthropicType((Integer) c[2]);
        assertThat(body.get("error").get("type").asText()).as("type for %s", what).isEqualTo(type);
        assertThat(body.get("error").get("message").asText())
            .as("message for %s", what)
            .contains((String) c[3]);
      }
      assertThat(post(own, PATH, HELLO, ok).statusCode()).isEqualTo(200);
      Map<String, String> bearer =
          Map.of("anthropic-version", "2023-06-01", "Authorization", "Bearer sk-a");
      assertThat(post(own, PATH, HELLO, bearer).statusCode()).isEqualTo(200);
      SimulatorStats stats = own.stats();
      assertThat(stats.messagesRequests()).isEqualTo(cases.length + 2);
      assertThat(stats.rejectedRequests()).isEqualTo(cases.length);
      HttpResponse<String> get = SimHttp.get(own, PATH);
      assertThat(get.statusCode()).isEqualTo(405);
      assertThat(json(get).get("type").asText()).isEqualTo("error");
    }
  }
}

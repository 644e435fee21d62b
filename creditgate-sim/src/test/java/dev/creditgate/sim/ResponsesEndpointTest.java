package dev.creditgate.sim;

import static dev.creditgate.sim.SimHttp.JSON;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ResponsesEndpointTest {

  private static final String PATH = "/v1/responses";
  private static final String HELLO =
      "{\"model\":\"sim-pro\",\"instructions\":\"Be brief.\","
          + "\"input\":\"Hello there, how are you today?\"}";

  /** What the simulator hashes for HELLO: the instructions and the input as messages. */
  private static final String HELLO_MESSAGES =
      "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
          + "{\"role\":\"user\",\"content\":\"Hello there, how are you today?\"}]";

  /** 2 + 6 words in 2 messages: ceil(8 x 4 / 3) = 11, plus 2 x 4, plus 3. */
  private static final int HELLO_INPUT_TOKENS = 22;

  private static final List<String> RESPONSE_FIELDS =
      List.of(
          "id",
          "object",
          "created_at",
          "status",
          "background",
          "error",
          "incomplete_details",
          "instructions",
          "max_output_tokens",
          "max_tool_calls",
          "model",
          "output",
          "parallel_tool_calls",
          "previous_response_id",
          "prompt_cache_key",
          "reasoning",
          "safety_identifier",
          "service_tier",
          "store",
          "temperature",
          "text",
          "tool_choice",
          "tools",
          "top_logprobs",
          "top_p",
          "truncation",
          "usage",
          "user",
          "metadata");

  private static SimulatedUpstream sim;

  @BeforeAll
  static void start() {
    sim = SimulatedUpstream.builder().build().start();
  }

  @AfterAll
  static void stop() {
    sim.close();
  }

  private static String with(String extra) {
    return HELLO.substring(0, HELLO.length() - 1) + "," + extra + "}";
  }

  private static String text(JsonNode response) {
    return response.get("output").get(0).get("content").get(0).get("text").asText();
  }

  @Test
  void plainAnswerIsACompletedResponseWithOneMessageAndUsage() throws Exception {
    int n = naturalLength("sim-pro", HELLO_MESSAGES);
    assertThat(HELLO_INPUT_TOKENS).isEqualTo(promptTokens(8, 2));

    HttpResponse<String> response = post(sim, PATH, HELLO, Map.of());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode body = json(response);
    assertThat(body.properties().stream().map(Map.Entry::getKey).toList())
        .containsExactlyElementsOf(RESPONSE_FIELDS);
    assertThat(body.get("id").asText()).startsWith("resp_sim-");
    assertThat(response.headers().firstValue("x-request-id")).hasValue(body.get("id").asText());
    assertThat(body.get("object").asText()).isEqualTo("response");
    assertThat(body.get("status").asText()).isEqualTo("completed");
    assertThat(body.get("created_at").asLong()).isPositive();
    assertThat(body.get("model").asText()).isEqualTo("sim-pro");
    assertThat(body.get("instructions").asText()).isEqualTo("Be brief.");
    assertThat(body.get("error").isNull()).isTrue();
    assertThat(body.get("incomplete_details").isNull()).isTrue();
    assertThat(body.get("tools")).isEmpty();
    assertThat(body.get("tool_choice").asText()).isEqualTo("auto");
    assertThat(body.get("output")).hasSize(1);
    JsonNode item = body.get("output").get(0);
    assertThat(item.get("type").asText()).isEqualTo("message");
    assertThat(item.get("role").asText()).isEqualTo("assistant");
    assertThat(item.get("status").asText()).isEqualTo("completed");
    assertThat(item.get("id").asText()).startsWith("msg_sim-");
    JsonNode part = item.get("content").get(0);
    assertThat(part.get("type").asText()).isEqualTo("output_text");
    assertThat(part.get("annotations")).isEmpty();
    assertThat(text(body).split(" ")).hasSize(n);
    assertThat(text(body)).endsWith(".");

    JsonNode usage = body.get("usage");
    assertThat(usage.get("input_tokens").asInt()).isEqualTo(HELLO_INPUT_TOKENS);
    assertThat(usage.get("input_tokens_details").get("cached_tokens").asInt()).isZero();
    assertThat(usage.get("output_tokens").asInt()).isEqualTo(n);
    assertThat(usage.get("output_tokens_details").get("reasoning_tokens").asInt()).isZero();
    assertThat(usage.get("total_tokens").asInt()).isEqualTo(HELLO_INPUT_TOKENS + n);
  }

  @Test
  void inputItemsCountAsMessagesWhateverTheirContentShape() throws Exception {
    String body =
        "{\"model\":\"sim-lite\",\"input\":["
            + "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Hello there\"}]},"
            + "{\"type\":\"message\",\"role\":\"assistant\",\"content\":\"General Kenobi\"},"
            + "{\"role\":\"user\",\"content\":\"one two three\"}],"
            + "\"store\":false,\"previous_response_id\":\"resp_x\",\"metadata\":{\"k\":\"v\"},"
            + "\"tools\":[]}";
    JsonNode response = json(post(sim, PATH, body, Map.of()));
    // 2 + 2 + 3 words in 3 messages: ceil(7 x 4 / 3) = 10, plus 12, plus 3.
    assertThat(response.get("usage").get("input_tokens").asInt()).isEqualTo(25);
    assertThat(response.get("store").asBoolean()).isFalse();
    assertThat(response.get("previous_response_id").asText()).isEqualTo("resp_x");
    assertThat(response.get("metadata").get("k").asText()).isEqualTo("v");
    assertThat(response.get("instructions").isNull()).isTrue();
  }

  @Test
  void streamSendsTypedEventsInOrderWithOneDeltaPerTokenAndUsageAtTheEnd() throws Exception {
    JsonNode plain = json(post(sim, PATH, HELLO, Map.of()));
    int n = plain.get("usage").get("output_tokens").asInt();

    HttpResponse<String> response = post(sim, PATH, with("\"stream\":true"), Map.of());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("text/event-stream");
    assertThat(response.body()).doesNotContain("[DONE]");
    List<SimHttp.Event> events = events(response.body());
    List<String> expected = new ArrayList<>();
    expected.addAll(
        List.of(
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"));
    for (int i = 0; i < n; i++) {
      expected.add("response.output_text.delta");
    }
    expected.addAll(
        List.of(
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"));
    assertThat(events.stream().map(SimHttp.Event::name).toList()).isEqualTo(expected);
    for (int i = 0; i < events.size(); i++) {
      JsonNode data = events.get(i).data();
      assertThat(data.get("type").asText()).isEqualTo(events.get(i).name());
      assertThat(data.get("sequence_number").asInt()).isEqualTo(i);
    }

    JsonNode created = events.get(0).data().get("response");
    assertThat(created.get("status").asText()).isEqualTo("in_progress");
    assertThat(created.get("output")).isEmpty();
    assertThat(created.get("usage").isNull()).isTrue();
    JsonNode added = events.get(2).data();
    String itemId = added.get("item").get("id").asText();
    assertThat(added.get("item").get("status").asText()).isEqualTo("in_progress");

    StringBuilder text = new StringBuilder();
    for (SimHttp.Event event : events.subList(4, 4 + n)) {
      JsonNode delta = event.data();
      assertThat(delta.get("item_id").asText()).isEqualTo(itemId);
      assertThat(delta.get("output_index").asInt()).isZero();
      assertThat(delta.get("content_index").asInt()).isZero();
      assertThat(delta.get("logprobs")).isEmpty();
      text.append(delta.get("delta").asText());
    }
    assertThat(text.toString()).isEqualTo(text(plain));
    assertThat(events.get(4 + n).data().get("text").asText()).isEqualTo(text(plain));
    assertThat(events.get(6 + n).data().get("item").get("status").asText()).isEqualTo("completed");

    JsonNode done = events.getLast().data().get("response");
    assertThat(done.get("status").asText()).isEqualTo("completed");
    assertThat(done.get("id").asText()).isEqualTo(created.get("id").asText());
    assertThat(done.get("usage")).isEqualTo(plain.get("usage"));
    assertThat(text(done)).isEqualTo(text(plain));
  }

  @Test
  void theOutputCapCutsTheAnswerAndMarksItIncomplete() throws Exception {
    String full = text(json(post(sim, PATH, HELLO, Map.of())));
    String capped = with("\"max_output_tokens\":3");

    JsonNode plain = json(post(sim, PATH, capped, Map.of()));
    assertThat(plain.get("status").asText()).isEqualTo("incomplete");
    assertThat(plain.get("incomplete_details").get("reason").asText())
        .isEqualTo("max_output_tokens");
    assertThat(plain.get("max_output_tokens").asInt()).isEqualTo(3);
    assertThat(plain.get("output").get(0).get("status").asText()).isEqualTo("incomplete");
    assertThat(plain.get("usage").get("output_tokens").asInt()).isEqualTo(3);
    String[] words = text(plain).split(" ");
    assertThat(words).hasSize(3);
    assertThat(full).startsWith(words[0] + " " + words[1] + " ");

    List<SimHttp.Event> events =
        events(post(sim, PATH, with("\"max_output_tokens\":3,\"stream\":true"), Map.of()).body());
    assertThat(events.stream().filter(e -> e.name().equals("response.output_text.delta")))
        .hasSize(3);
    assertThat(events.getLast().name()).isEqualTo("response.incomplete");
    JsonNode last = events.getLast().data().get("response");
    assertThat(last.get("incomplete_details").get("reason").asText())
        .isEqualTo("max_output_tokens");
    assertThat(last.get("usage").get("output_tokens").asInt()).isEqualTo(3);
    assertThat(events.get(events.size() - 2).data().get("item").get("status").asText())
        .isEqualTo("incomplete");
  }

  @Test
  void answersAreDeterministicPerModelAndInput() throws Exception {
    String a = text(json(post(sim, PATH, HELLO, Map.of())));
    assertThat(text(json(post(sim, PATH, HELLO, Map.of())))).isEqualTo(a);
    assertThat(text(json(post(sim, PATH, HELLO.replace("today", "tonight"), Map.of()))))
        .isNotEqualTo(a);
    assertThat(text(json(post(sim, PATH, HELLO.replace("sim-pro", "sim-max"), Map.of()))))
        .isNotEqualTo(a);
  }

  @Test
  void simHeadersSetCacheReasoningAndUsage() throws Exception {
    JsonNode details =
        json(
            post(
                sim,
                PATH,
                with("\"max_output_tokens\":10"),
                Map.of("X-Sim-Cached-Tokens", "7", "X-Sim-Reasoning-Tokens", "4")));
    JsonNode usage = details.get("usage");
    assertThat(usage.get("input_tokens_details").get("cached_tokens").asInt()).isEqualTo(7);
    assertThat(usage.get("output_tokens_details").get("reasoning_tokens").asInt()).isEqualTo(4);
    // Reasoning counts in output tokens and in the cap: 10 - 4 = 6 words.
    assertThat(usage.get("output_tokens").asInt()).isEqualTo(10);
    assertThat(text(details).split(" ")).hasSize(6);

    String longInput = "word ".repeat(1500);
    JsonNode cached =
        json(post(sim, PATH, "{\"model\":\"m\",\"input\":\"" + longInput + "\"}", Map.of()));
    // 2000 + 4 + 3 = 2007 input tokens; half rounded down to 128-token blocks.
    assertThat(cached.get("usage").get("input_tokens").asInt()).isEqualTo(2007);
    assertThat(cached.get("usage").get("input_tokens_details").get("cached_tokens").asInt())
        .isEqualTo(896);

    HttpResponse<String> noUsage = post(sim, PATH, HELLO, Map.of("X-Sim-No-Usage", "true"));
    assertThat(json(noUsage).get("usage").isNull()).isTrue();
    List<SimHttp.Event> events =
        events(post(sim, PATH, with("\"stream\":true"), Map.of("X-Sim-No-Usage", "true")).body());
    assertThat(events.getLast().name()).isEqualTo("response.completed");
    assertThat(events.getLast().data().get("response").get("usage").isNull()).isTrue();

    HttpResponse<String> failed = post(sim, PATH, HELLO, Map.of("X-Sim-Fail", "503"));
    assertThat(failed.statusCode()).isEqualTo(503);
    JsonNode error = json(failed).get("error");
    assertThat(error.get("type").asText()).isEqualTo("server_error");
    assertThat(error.get("code").asText()).isEqualTo("simulated_failure");
  }

  @Test
  void abortAfterChunksDropsTheStreamBeforeItsFinalEvent() throws Exception {
    SimulatedUpstream own = SimulatedUpstream.builder().build().start();
    try (own) {
      HttpResponse<InputStream> response =
          postStreaming(
              own, PATH, with("\"stream\":true"), Map.of("X-Sim-Abort-After-Chunks", "2"));
      assertThat(response.statusCode()).isEqualTo(200);
      StringBuilder read = new StringBuilder();
      assertThatThrownBy(
              () -> {
                try (InputStream in = response.body()) {
                  byte[] buffer = new byte[4096];
                  int n;
                  while ((n = in.read(buffer)) >= 0) {
                    read.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
                  }
                }
              })
          .isInstanceOf(IOException.class);
      assertThat(read.toString()).doesNotContain("response.completed");
      assertThat(read.toString().split("event: response.output_text.delta", -1).length - 1)
          .isLessThanOrEqualTo(2);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(() -> assertThat(own.stats().abortedResponses()).isEqualTo(1));
      assertThat(own.stats().usageReports()).isZero();
      assertThat(own.stats().responsesRequests()).isEqualTo(1);
    }
  }

  @Test
  void aProviderThatIgnoresTheCapRunsToItsNaturalLength() throws Exception {
    int n = naturalLength("sim-pro", HELLO_MESSAGES);
    try (SimulatedUpstream ignoring =
        SimulatedUpstream.builder().ignoreMaxTokens(true).build().start()) {
      JsonNode body = json(post(ignoring, PATH, with("\"max_output_tokens\":3"), Map.of()));
      assertThat(body.get("status").asText()).isEqualTo("completed");
      assertThat(body.get("usage").get("output_tokens").asInt()).isEqualTo(n);
    }
  }

  @Test
  void streamIsPacedAtTheTokenRate() throws Exception {
    try (SimulatedUpstream paced =
        SimulatedUpstream.builder().tokensPerSecond(40).build().start()) {
      long start = System.nanoTime();
      HttpResponse<String> response =
          post(paced, PATH, with("\"stream\":true,\"max_output_tokens\":8"), Map.of());
      long elapsedMs = (System.nanoTime() - start) / 1_000_000;
      assertThat(response.statusCode()).isEqualTo(200);
      // 8 tokens at 40/s: the last is due 200 ms after the first byte.
      assertThat(elapsedMs).isGreaterThanOrEqualTo(200);
    }
  }

  @Test
  void badRequestsGetOpenAiStyleErrorsNamingTheField() throws Exception {
    SimulatedUpstream own = SimulatedUpstream.builder().apiKey("k").maxBodyBytes(400).build();
    own.start();
    try (own) {
      Map<String, String> auth = Map.of("Authorization", "Bearer k");
      Object[][] cases = {
        {"{not json", auth, 400, "invalid_json", null},
        {"{\"input\":\"x\"}", auth, 400, "missing_required_parameter", "model"},
        {"{\"model\":\"m\"}", auth, 400, "missing_required_parameter", "input"},
        {"{\"model\":\"m\",\"input\":5}", auth, 400, "invalid_type", "input"},
        {"{\"model\":\"m\",\"input\":[]}", auth, 400, "invalid_type", "input"},
        {"{\"model\":\"m\",\"input\":[\"x\"]}", auth, 400, "invalid_type", "input[0]"},
        {
          "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":5}]}",
          auth,
          400,
          "invalid_type",
          "input[0].content"
        },
        {
          "{\"model\":\"m\",\"input\":\"x\",\"instructions\":5}",
          auth,
          400,
          "invalid_type",
          "instructions"
        },
        {with("\"max_output_tokens\":0"), auth, 400, "invalid_value", "max_output_tokens"},
        {with("\"stream\":\"yes\""), auth, 400, "invalid_type", "stream"},
        {
          HELLO,
          Map.of("Authorization", "Bearer k", "X-Sim-Fail", "abc"),
          400,
          "invalid_header",
          null
        },
        {HELLO, Map.of(), 401, "invalid_api_key", null},
        {HELLO.replace("today", "x".repeat(400)), auth, 413, "request_too_large", null},
      };
      for (Object[] c : cases) {
        @SuppressWarnings("unchecked")
        Map<String, String> headers = (Map<String, String>) c[1];
        HttpResponse<String> response = post(own, PATH, (String) c[0], headers);
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
      assertThat(post(own, PATH, HELLO, auth).statusCode()).isEqualTo(200);
      SimulatorStats stats = own.stats();
      assertThat(stats.responsesRequests()).isEqualTo(cases.length + 1);
      assertThat(stats.rejectedRequests()).isEqualTo(cases.length);
      assertThat(stats.chatRequests()).isZero();
      assertThat(SimHttp.get(own, PATH).statusCode()).isEqualTo(405);
    }
  }
}

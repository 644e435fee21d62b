package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.ResponseUsage;
import dev.creditgate.pricing.Usage;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/responses} through the official OpenAI Java SDK and raw HTTP: each call charged
 * once, at the usage the simulator reported, the charge in the answer's usage and headers; a stream
 * closed by a {@code response.completed} that carries the charge; a stream past its cap cut off and
 * charged the cap; bad requests refused before anything is held or charged.
 */
class ResponsesEndpointTest extends SimulatorGatewaySupport {

  static ResponseCreateParams params(String model) {
    return ResponseCreateParams.builder()
        .model(model)
        .instructions("Be brief.")
        .input("Say hello to the gateway")
        .maxOutputTokens(50L)
        .build();
  }

  static Usage usage(ResponseUsage u) {
    return new Usage(
        u.inputTokens(),
        u.outputTokens(),
        u.inputTokensDetails().cachedTokens(),
        u.outputTokensDetails().reasoningTokens());
  }

  static long chargedField(ResponseUsage u) {
    assertThat(u._additionalProperties()).containsKey(FIELD);
    return u._additionalProperties().get(FIELD).convert(Long.class);
  }

  @Test
  void sdkResponseIsChargedOnceAtTheUsageTheUpstreamReported() {
    String account = account();
    String key = userKey(account, 1_000_000);
    HttpResponseFor<Response> raw = openai(key).responses().withRawResponse().create(params("pro"));
    Response response = raw.parse().validate();
    ResponseUsage u = response.usage().orElseThrow();
    assertThat(u.outputTokens()).isBetween(1L, 50L);
    assertThat(response.output()).isNotEmpty();
    long expected = credits(usage(u));
    assertThat(chargedField(u)).isEqualTo(expected);
    assertThat(raw.headers().values("X-Creditgate-Charged"))
        .containsExactly(Long.toString(expected));
    assertThat(theCharge(account).amount()).isEqualTo(-expected);
    assertThat(balance(account)).isEqualTo(1_000_000 - expected);
    // The hold covered the worst case: the input as the gateway counted it, and the 50-token cap.
    assertThat(Long.parseLong(raw.headers().values("X-Creditgate-Reserved").get(0)))
        .isGreaterThanOrEqualTo(credits(new Usage(0, 50, 0, 0)));
  }

  @Test
  void sdkStreamEndsWithACompletedEventThatCarriesTheCharge() {
    String account = account();
    String key = userKey(account, 1_000_000);
    List<ResponseStreamEvent> events;
    try (StreamResponse<ResponseStreamEvent> stream =
        openai(key).responses().createStreaming(params("pro"))) {
      events = stream.stream().toList();
    }
    assertThat(events).isNotEmpty();
    ResponseStreamEvent last = events.get(events.size() - 1);
    assertThat(last.isCompleted()).as(last.toString()).isTrue();
    ResponseUsage u = last.asCompleted().response().usage().orElseThrow();
    long deltas = events.stream().filter(ResponseStreamEvent::isOutputTextDelta).count();
    assertThat(deltas).isEqualTo(u.outputTokens());
    long expected = credits(usage(u));
    assertThat(chargedField(u)).isEqualTo(expected);
    assertThat(theCharge(account).amount()).isEqualTo(-expected);
  }

  @Test
  void streamPastItsCapServesNothingUnpaid() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    HttpResponse<String> r =
        post(
            "/v1/responses",
            key,
            "{\"model\":\"wild\",\"input\":\"Tell a long story\",\"max_output_tokens\":3,"
                + "\"stream\":true}",
            Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    List<Map.Entry<String, JsonNode>> events = events(r.body());
    long deltas =
        events.stream().filter(e -> e.getKey().equals("response.output_text.delta")).count();
    assertThat(deltas).isGreaterThanOrEqualTo(3);
    // Cut off at the cap, or, when the whole stream came in one read, ended by the upstream's own
    // closing event: either way the last event carries the usage charged and the charge. A count
    // within the cap's slack is believed, one above it replaced by the cap; every delta relayed is
    // paid for.
    Map.Entry<String, JsonNode> last = events.get(events.size() - 1);
    assertThat(last.getKey()).isIn("response.incomplete", "response.completed");
    JsonNode usage = last.getValue().path("response").path("usage");
    long output = usage.path("output_tokens").asLong();
    assertThat(deltas).isLessThanOrEqualTo(output);
    assertThat(output).isLessThanOrEqualTo(3 + 16);
    long charged = -theCharge(account).amount();
    assertThat(usage.path(FIELD).asLong()).isEqualTo(charged);
    assertThat(charged)
        .isEqualTo(
            credits(
                new Usage(
                    usage.path("input_tokens").asLong(),
                    output,
                    usage.path("input_tokens_details").path("cached_tokens").asLong(),
                    usage.path("output_tokens_details").path("reasoning_tokens").asLong())));
  }

  @Test
  void requestsTheGatewayCannotMeterAreRefusedBeforeAnythingIsHeld() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    for (String[] c :
        new String[][] {
          {"{\"model\":\"pro\"}", "input"},
          {"{\"model\":\"pro\",\"input\":42}", "input"},
          {"{\"model\":\"pro\",\"input\":\"hi\",\"max_output_tokens\":-1}", "max_output_tokens"},
          {"{\"model\":\"pro\",\"input\":\"hi\",\"max_output_tokens\":\"9\"}", "max_output_tokens"},
          {"{\"model\":\"pro\",\"input\":\"hi\",\"stream\":\"yes\"}", "stream"},
          {"{\"model\":\"pro\",\"input\":[\"hi\"]}", "input[0]"},
          {"{\"model\":\"pro\",\"input\":\"hi\",\"max_output_tokens\":0}", "max_output_tokens"},
          {"{\"model\":\"pro\",\"input\":\"hi\",\"background\":true}", "background"},
        }) {
      HttpResponse<String> r = post("/v1/responses", key, c[0], Map.of());
      assertThat(r.statusCode()).as(c[0]).isEqualTo(400);
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertThat(error.path("param").asText()).as(r.body()).isEqualTo(c[1]);
      assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
    }
    HttpResponse<String> wrong =
        post("/v1/responses", key, "{\"model\":\"claude\",\"input\":\"hi\"}", Map.of());
    assertThat(wrong.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(wrong.body()).path("error").path("code").asText())
        .isEqualTo("wrong_protocol");
    assertThat(JSON.readTree(wrong.body()).path("error").path("message").asText())
        .contains("POST /v1/messages");
    assertThat(charges(account)).isEmpty();
    assertThat(balance(account)).isEqualTo(1_000_000);
  }

  @Test
  void aCallThatAddsStoredTurnsIsHeldForTheirBound() throws Exception {
    // 100,000 credits cover a small call, not the 200,000 input tokens stored turns may add.
    String account = account();
    String key = userKey(account, 100_000);
    String small = "{\"model\":\"pro\",\"input\":\"hi\",\"max_output_tokens\":10";
    HttpResponse<String> plain = post("/v1/responses", key, small + "}", Map.of());
    assertThat(plain.statusCode()).as(plain.body()).isEqualTo(200);
    HttpResponse<String> stored =
        post("/v1/responses", key, small + ",\"previous_response_id\":\"resp_earlier\"}", Map.of());
    assertThat(stored.statusCode()).as(stored.body()).isEqualTo(402);
    assertThat(charges(account)).hasSize(1);
  }

  @Test
  void aCallTheBalanceCannotCoverIsRefusedWith402() throws Exception {
    String account = account();
    String key = userKey(account, 1);
    HttpResponse<String> r =
        post(
            "/v1/responses",
            key,
            "{\"model\":\"pro\",\"input\":\"hi\",\"max_output_tokens\":100}",
            Map.of());
    assertThat(r.statusCode()).isEqualTo(402);
    assertThat(JSON.readTree(r.body()).path("error").path("message").asText())
        .contains("max_output_tokens");
    assertThat(charges(account)).isEmpty();
  }
}

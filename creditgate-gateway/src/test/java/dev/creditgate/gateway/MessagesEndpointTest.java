package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.anthropic.core.http.HttpResponseFor;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.errors.AnthropicServiceException;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.MessageDeltaUsage;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.pricing.Usage;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/messages} to an Anthropic-protocol upstream through the official Anthropic Java
 * SDK and raw HTTP: charged once at Anthropic's usage (input plus cache reads and writes, output),
 * the charge in the usage (a stream's in its {@code message_delta}, held until charged); the key in
 * {@code x-api-key}; errors in Anthropic's shape.
 */
class MessagesEndpointTest extends SimulatorGatewaySupport {

  static final Map<String, String> VERSION = Map.of("anthropic-version", "2023-06-01");

  static MessageCreateParams params(String model) {
    return MessageCreateParams.builder()
        .model(model)
        .maxTokens(50)
        .system("Be brief.")
        .addUserMessage("Say hello to the gateway")
        .build();
  }

  @Test
  void sdkMessageIsChargedOnceAtAnthropicsUsage() {
    String account = account();
    String key = userKey(account, 1_000_000);
    HttpResponseFor<Message> raw =
        anthropic(key).messages().withRawResponse().create(params("claude"));
    Message message = raw.parse().validate();
    com.anthropic.models.messages.Usage u = message.usage();
    long reads = u.cacheReadInputTokens().orElse(0L);
    long writes = u.cacheCreationInputTokens().orElse(0L);
    long expected =
        credits(new Usage(u.inputTokens() + reads + writes, u.outputTokens(), reads, 0));
    assertThat(u.outputTokens()).isBetween(1L, 50L);
    assertThat(u._additionalProperties().get(FIELD).convert(Long.class)).isEqualTo(expected);
    assertThat(raw.headers().values("X-Creditgate-Charged"))
        .containsExactly(Long.toString(expected));
    assertThat(theCharge(account).amount()).isEqualTo(-expected);
  }

  @Test
  void sdkStreamCarriesTheChargeInItsMessageDeltaAndEndsWithMessageStop() {
    String account = account();
    String key = userKey(account, 1_000_000);
    List<RawMessageStreamEvent> events;
    try (StreamResponse<RawMessageStreamEvent> stream =
        anthropic(key).messages().createStreaming(params("claude"))) {
      events = stream.stream().toList();
    }
    assertThat(events.get(events.size() - 1).isMessageStop()).isTrue();
    RawMessageStreamEvent delta = events.get(events.size() - 2);
    assertThat(delta.isMessageDelta()).isTrue();
    MessageDeltaUsage out = delta.asMessageDelta().usage();
    com.anthropic.models.messages.Usage in = events.get(0).asMessageStart().message().usage();
    long reads = in.cacheReadInputTokens().orElse(0L);
    long writes = in.cacheCreationInputTokens().orElse(0L);
    long texts = events.stream().filter(RawMessageStreamEvent::isContentBlockDelta).count();
    assertThat(texts).isEqualTo(out.outputTokens());
    long expected =
        credits(new Usage(in.inputTokens() + reads + writes, out.outputTokens(), reads, 0));
    assertThat(out._additionalProperties().get(FIELD).convert(Long.class)).isEqualTo(expected);
    assertThat(theCharge(account).amount()).isEqualTo(-expected);
  }

  @Test
  void streamPastItsCapServesNothingUnpaid() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    HttpResponse<String> r =
        post(
            "/v1/messages",
            key,
            "{\"model\":\"wild-claude\",\"max_tokens\":3,\"stream\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell a long story\"}]}",
            VERSION);
    assertThat(r.statusCode()).isEqualTo(200);
    List<Map.Entry<String, JsonNode>> events = events(r.body());
    assertThat(events.get(events.size() - 1).getKey()).isEqualTo("message_stop");
    JsonNode delta = events.get(events.size() - 2).getValue();
    assertThat(delta.path("type").asText()).isEqualTo("message_delta");
    // Cut off at the cap (the gateway's own message_delta, stop reason max_tokens), or, when the
    // whole stream came in one read, charged at its own count if within the cap's slack and at the
    // cap otherwise: either way every text delta relayed is paid for.
    JsonNode usage = delta.path("usage");
    long output = usage.path("output_tokens").asLong();
    long texts = events.stream().filter(e -> e.getKey().equals("content_block_delta")).count();
    assertThat(texts).isGreaterThanOrEqualTo(3).isLessThanOrEqualTo(output);
    assertThat(output).isLessThanOrEqualTo(3 + 16);
    long charged = -theCharge(account).amount();
    assertThat(usage.path(FIELD).asLong()).isEqualTo(charged);
    // The input counts: in the gateway's own message_delta, else in the upstream's message_start.
    JsonNode in =
        usage.has("input_tokens") ? usage : events.get(0).getValue().path("message").path("usage");
    long reads = in.path("cache_read_input_tokens").asLong();
    assertThat(charged)
        .isEqualTo(
            credits(
                new Usage(
                    in.path("input_tokens").asLong()
                        + reads
                        + in.path("cache_creation_input_tokens").asLong(),
                    output,
                    reads,
                    0)));
  }

  @Test
  void theKeyIsTakenFromXApiKeyOrAuthorization() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    String body =
        "{\"model\":\"claude\",\"max_tokens\":5,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    HttpResponse<String> viaHeader =
        post(
            "/v1/messages",
            null,
            body,
            Map.of("x-api-key", key, "anthropic-version", "2023-06-01"));
    assertThat(viaHeader.statusCode()).as(viaHeader.body()).isEqualTo(200);
    HttpResponse<String> viaBearer = post("/v1/messages", key, body, VERSION);
    assertThat(viaBearer.statusCode()).isEqualTo(200);
    HttpResponse<String> none = post("/v1/messages", null, body, VERSION);
    assertThat(none.statusCode()).isEqualTo(401);
    JsonNode error = JSON.readTree(none.body());
    assertThat(error.path("type").asText()).isEqualTo("error");
    assertThat(error.path("error").path("type").asText()).isEqualTo("authentication_error");
  }

  @Test
  void errorsComeInAnthropicsShapeAndChangeNothing() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    for (String[] c :
        new String[][] {
          {"{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "400"},
          {"{\"model\":\"claude\",\"max_tokens\":5,\"messages\":[]}", "400"},
          {
            "{\"model\":\"claude\",\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            "400"
          },
          {"{\"model\":\"claude\",\"max_tokens\":5,\"messages\":[{\"content\":\"hi\"}]}", "400"},
          {
            "{\"model\":\"pro\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            "400"
          },
          {
            "{\"model\":\"nope\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            "404"
          },
        }) {
      HttpResponse<String> r = post("/v1/messages", key, c[0], VERSION);
      assertThat(r.statusCode()).as(c[0] + " " + r.body()).isEqualTo(Integer.parseInt(c[1]));
      JsonNode error = JSON.readTree(r.body());
      assertThat(error.path("type").asText()).isEqualTo("error");
      assertThat(error.path("error").path("type").asText())
          .isEqualTo(c[1].equals("404") ? "not_found_error" : "invalid_request_error");
      assertThat(error.path("error").path("message").asText()).isNotBlank();
    }
    assertThat(charges(account)).isEmpty();
    assertThat(balance(account)).isEqualTo(1_000_000);
  }

  @Test
  void aCallTheBalanceCannotCoverIsABillingErrorTheSdkReports() {
    String account = account();
    String key = userKey(account, 1);
    assertThatThrownBy(() -> anthropic(key).messages().create(params("claude")))
        .isInstanceOfSatisfying(
            AnthropicServiceException.class,
            e -> {
              assertThat(e.statusCode()).isEqualTo(402);
              assertThat(e.getMessage()).contains("max_tokens");
            });
    assertThat(charges(account)).isEmpty();
  }

  @Test
  void modelsListedForAnAnthropicClientAreThoseOfItsProtocol() throws Exception {
    String key = userKey(account(), 0);
    HttpResponse<String> r =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/v1/models"))
                .header("x-api-key", key)
                .header("anthropic-version", "2023-06-01")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    List<String> ids = JSON.readTree(r.body()).path("data").findValuesAsText("id");
    assertThat(ids).containsExactly("claude", "wild-claude");
    HttpResponse<String> openai =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/v1/models"))
                .header("Authorization", "Bearer " + key)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    JsonNode data = JSON.readTree(openai.body()).path("data");
    JsonNode claude = null;
    for (JsonNode m : data) {
      if (m.path("id").asText().equals("claude")) {
        claude = m;
      }
    }
    assertThat(claude).isNotNull();
    assertThat(claude.path("protocol").asText()).isEqualTo("anthropic");
    assertThat(claude.path("endpoints").get(0).asText()).isEqualTo("POST /v1/messages");
  }
}

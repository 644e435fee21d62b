package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.pricing.Usage;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A chat stream from an upstream that ignores its cap and sends its whole answer at once (so that
 * many chunks come in one read): the gateway relays no chunk past what the call's hold pays for,
 * and every content delta relayed is charged.
 */
class ChatStreamCutOffTest extends SimulatorGatewaySupport {

  @Test
  void noChunkPastTheBudgetIsRelayedEvenWhenManyComeInOneRead() throws Exception {
    for (int i = 0; i < 5; i++) {
      String account = account();
      String key = userKey(account, 1_000_000);
      HttpResponse<String> r =
          post(
              "/v1/chat/completions",
              key,
              "{\"model\":\"wild\",\"max_tokens\":3,\"stream\":true,"
                  + "\"stream_options\":{\"include_usage\":true},"
                  + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell a long story "
                  + i
                  + "\"}]}",
              Map.of());
      assertThat(r.statusCode()).isEqualTo(200);
      List<Map.Entry<String, JsonNode>> events = events(r.body().replace("data: [DONE]", ""));
      long texts =
          events.stream()
              .filter(
                  e ->
                      e.getValue()
                              .path("choices")
                              .path(0)
                              .path("delta")
                              .path("content")
                              .asText()
                              .length()
                          > 0)
              .count();
      JsonNode usage = events.get(events.size() - 1).getValue().path("usage");
      long output = usage.path("completion_tokens").asLong();
      assertThat(texts).as(r.body()).isLessThanOrEqualTo(output);
      assertThat(output).isLessThanOrEqualTo(3 + 16);
      long charged = -theCharge(account).amount();
      assertThat(usage.path(FIELD).asLong()).isEqualTo(charged);
      assertThat(charged)
          .isEqualTo(
              credits(
                  new Usage(
                      usage.path("prompt_tokens").asLong(),
                      output,
                      usage.path("prompt_tokens_details").path("cached_tokens").asLong(),
                      0)));
    }
  }
}

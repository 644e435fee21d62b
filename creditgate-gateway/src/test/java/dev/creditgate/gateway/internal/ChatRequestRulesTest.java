package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ChatRequestRulesTest {

  private static ObjectNode json(String text) throws Exception {
    return (ObjectNode) Json.MAPPER.readTree(text);
  }

  @Test
  void aWellFormedRequestPasses() throws Exception {
    ObjectNode request =
        json(
            "{\"model\":\"pro\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"stream\":true,\"stream_options\":{},\"max_tokens\":10,\"n\":1,\"temperature\":0.5}");
    assertThat(ChatRequestRules.validate(request)).isSameAs(request);
  }

  @Test
  void nAndTopLogprobsAreBoundedByTheConfiguredLimits() throws Exception {
    ObjectNode within =
        json("{\"messages\":[{\"role\":\"user\"}],\"n\":4,\"logprobs\":true,\"top_logprobs\":5}");
    assertThat(ChatRequestRules.validate(within, 4, 5)).isSameAs(within);
    assertThatThrownBy(() -> ChatRequestRules.validate(within, 3, 5))
        .isInstanceOfSatisfying(
            ApiError.class,
            e -> {
              assertThat(e.param()).isEqualTo("n");
              assertThat(e.getMessage()).isEqualTo("'n' must be at most 3");
            });
    assertThatThrownBy(() -> ChatRequestRules.validate(within, 4, 4))
        .isInstanceOfSatisfying(
            ApiError.class, e -> assertThat(e.param()).isEqualTo("top_logprobs"));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"model\":1,\"messages\":[{\"role\":\"user\"}]}|model",
        "{\"model\":\"pro\"}|messages",
        "{\"messages\":{}}|messages",
        "{\"messages\":[]}|messages",
        "{\"messages\":[1]}|messages[0]",
        "{\"messages\":[{\"role\":1}]}|messages[0].role",
        "{\"messages\":[{\"role\":\"user\"},{\"role\":\"user\",\"content\":5}]}|messages[1].content",
        "{\"messages\":[{\"role\":\"user\"}],\"stream\":\"yes\"}|stream",
        "{\"messages\":[{\"role\":\"user\"}],\"stream_options\":true}|stream_options",
        "{\"messages\":[{\"role\":\"user\"}],\"max_tokens\":-1}|max_tokens",
        "{\"messages\":[{\"role\":\"user\"}],\"max_completion_tokens\":1.5}|max_completion_tokens",
        "{\"messages\":[{\"role\":\"user\"}],\"n\":\"2\"}|n",
        "{\"messages\":[{\"role\":\"user\"}],\"max_tokens\":1e30}|max_tokens",
        "{\"messages\":[{\"role\":\"user\"}],\"max_tokens\":10000001}|max_tokens",
        "{\"messages\":[{\"role\":\"user\"}],\"max_completion_tokens\":99999999999}|max_completion_tokens",
        "{\"messages\":[{\"role\":\"user\"}],\"n\":129}|n",
        "{\"messages\":[{\"role\":\"user\"}],\"temperature\":\"hot\"}|temperature",
        "{\"messages\":[{\"role\":\"user\"}],\"logprobs\":1}|logprobs",
        "{\"messages\":[{\"role\":\"user\"}],\"top_logprobs\":21}|top_logprobs",
        "{\"messages\":[{\"role\":\"user\"}],\"top_logprobs\":-1}|top_logprobs",
        "{\"messages\":[{\"role\":\"user\"}],\"top_logprobs\":\"5\"}|top_logprobs",
      })
  void anInvalidFieldIsRefusedByName(String body, String param) throws Exception {
    ObjectNode request = json(body);
    assertThatThrownBy(() -> ChatRequestRules.validate(request))
        .isInstanceOfSatisfying(
            ApiError.class,
            e -> {
              assertThat(e.status()).isEqualTo(400);
              assertThat(e.param()).isEqualTo(param);
            });
  }
}

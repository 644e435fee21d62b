package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.core.http.HttpResponseFor;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.creditgate.pricing.Usage;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/embeddings} through the official OpenAI Java SDK and raw HTTP: priced by the
 * input tokens the simulator reported, charged once, the charge in the usage; every input form
 * accepted; bad inputs refused with 400 naming the field, nothing charged.
 */
class EmbeddingsEndpointTest extends SimulatorGatewaySupport {

  @Test
  void sdkEmbeddingIsChargedItsInputTokens() {
    String account = account();
    String key = userKey(account, 1_000_000);
    HttpResponseFor<CreateEmbeddingResponse> raw =
        openai(key)
            .embeddings()
            .withRawResponse()
            .create(
                EmbeddingCreateParams.builder()
                    .model("embed")
                    .input("the quick brown fox jumps over the lazy dog")
                    .build());
    CreateEmbeddingResponse response = raw.parse().validate();
    assertThat(response.data()).hasSize(1);
    long prompt = response.usage().promptTokens();
    assertThat(prompt).isPositive();
    long expected = credits(new Usage(prompt, 0, 0, 0));
    assertThat(expected).isPositive();
    assertThat(response.usage()._additionalProperties().get(FIELD).convert(Long.class))
        .isEqualTo(expected);
    assertThat(raw.headers().values("X-Creditgate-Charged"))
        .containsExactly(Long.toString(expected));
    assertThat(theCharge(account).amount()).isEqualTo(-expected);
  }

  @Test
  void arraysOfStringsAndOfTokensAreChargedTheirReportedTokens() throws Exception {
    for (String input :
        List.of("[\"alpha beta\",\"gamma delta epsilon\"]", "[1,2,3,4]", "[[1,2,3],[4,5]]")) {
      String account = account();
      String key = userKey(account, 1_000_000);
      HttpResponse<String> r =
          post("/v1/embeddings", key, "{\"model\":\"embed\",\"input\":" + input + "}", Map.of());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonNode body = JSON.readTree(r.body());
      int inputs = input.startsWith("[[") || input.startsWith("[\"") ? 2 : 1;
      assertThat(body.path("data")).hasSize(inputs);
      long prompt = body.path("usage").path("prompt_tokens").asLong();
      long expected = credits(new Usage(prompt, 0, 0, 0));
      assertThat(body.path("usage").path(FIELD).asLong()).as(input).isEqualTo(expected);
      assertThat(theCharge(account).amount()).isEqualTo(-expected);
    }
  }

  @Test
  void tokenArraysAreHeldAtTheirLength() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    HttpResponse<String> r =
        post("/v1/embeddings", key, "{\"model\":\"embed\",\"input\":[[1,2,3],[4,5]]}", Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(r.body()).path("usage").path("prompt_tokens").asLong()).isEqualTo(5);
    assertThat(r.headers().firstValue("X-Creditgate-Reserved"))
        .hasValue(Long.toString(credits(new Usage(5, 0, 0, 0))));
  }

  @Test
  void badInputsAreRefusedNamingTheFieldAndNothingIsCharged() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    for (String[] c :
        new String[][] {
          {"{\"model\":\"embed\"}", "input"},
          {"{\"model\":\"embed\",\"input\":\"\"}", "input"},
          {"{\"model\":\"embed\",\"input\":[]}", "input"},
          {"{\"model\":\"embed\",\"input\":{\"a\":1}}", "input"},
          {"{\"model\":\"embed\",\"input\":[\"ok\",3]}", "input[1]"},
          {"{\"model\":\"embed\",\"input\":[1,-2]}", "input"},
          {"{\"model\":\"embed\",\"input\":[[1],[]]}", "input[1]"},
          {"{\"model\":\"embed\",\"input\":\"hi\",\"dimensions\":-1}", "dimensions"},
          {"{\"model\":\"embed\",\"input\":\"hi\",\"stream\":true}", "stream"},
        }) {
      HttpResponse<String> r = post("/v1/embeddings", key, c[0], Map.of());
      assertThat(r.statusCode()).as(c[0]).isEqualTo(400);
      assertThat(JSON.readTree(r.body()).path("error").path("param").asText())
          .as(r.body())
          .isEqualTo(c[1]);
    }
    assertThat(charges(account)).isEmpty();
    assertThat(balance(account)).isEqualTo(1_000_000);
  }
}

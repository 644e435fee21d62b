package dev.creditgate.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.errors.AnthropicServiceException;
import com.anthropic.errors.RateLimitException;
import com.anthropic.errors.UnauthorizedException;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StopReason;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.errors.InternalServerException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.helpers.ResponseAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The official SDKs ({@code openai-java}, {@code anthropic-java}) parse and validate every answer
 * shape, plain and streamed, as a gateway's tests will.
 */
class SdkCompatibilityTest {

  private static final String KEY = "sk-sim-test";

  private static SimulatedUpstream sim;
  private static OpenAIClient openai;
  private static AnthropicClient anthropic;

  @BeforeAll
  static void start() {
    sim = SimulatedUpstream.builder().apiKey(KEY).build().start();
    openai =
        OpenAIOkHttpClient.builder()
            .baseUrl(sim.baseUrl())
            .apiKey(KEY)
            .responseValidation(true)
            .maxRetries(0)
            .build();
    anthropic =
        AnthropicOkHttpClient.builder()
            .baseUrl(SimHttp.root(sim))
            .apiKey(KEY)
            .responseValidation(true)
            .maxRetries(0)
            .build();
  }

  @AfterAll
  static void stop() {
    openai.close();
    anthropic.close();
    sim.close();
  }

  @AfterEach
  void clearFault() {
    sim.fault(Fault.none());
  }

  private static ResponseCreateParams.Builder responseParams() {
    return ResponseCreateParams.builder()
        .model("sim-pro")
        .instructions("Be brief.")
        .input("Hello there, how are you today?");
  }

  @Test
  void responsesPlainAndStreamedParseWithValidation() {
    Response plain = openai.responses().create(responseParams().build());
    plain.validate();
    assertThat(plain.status()).contains(ResponseStatus.COMPLETED);
    String text = plain.output().get(0).asMessage().content().get(0).asOutputText().text();
    long words = text.split(" ").length;
    assertThat(plain.usage().orElseThrow().inputTokens()).isEqualTo(22);
    assertThat(plain.usage().orElseThrow().outputTokens()).isEqualTo(words);

    ResponseAccumulator accumulator = ResponseAccumulator.create();
    int deltas = 0;
    try (var stream = openai.responses().createStreaming(responseParams().build())) {
      for (ResponseStreamEvent event : stream.stream().toList()) {
        event.validate();
        accumulator.accumulate(event);
        deltas += event.isOutputTextDelta() ? 1 : 0;
      }
    }
    Response streamed = accumulator.response();
    streamed.validate();
    assertThat(deltas).isEqualTo(words);
    assertThat(streamed.status()).contains(ResponseStatus.COMPLETED);
    assertThat(streamed.usage()).isEqualTo(plain.usage());
    assertThat(streamed.output().get(0).asMessage().content().get(0).asOutputText().text())
        .isEqualTo(text);

    Response cut = openai.responses().create(responseParams().maxOutputTokens(3).build());
    cut.validate();
    assertThat(cut.status()).contains(ResponseStatus.INCOMPLETE);
    assertThat(cut.incompleteDetails().orElseThrow().reason())
        .contains(Response.IncompleteDetails.Reason.MAX_OUTPUT_TOKENS);
  }

  @Test
  void chatCompletionsPlainAndStreamedParseWithValidation() {
    ChatCompletionCreateParams params =
        ChatCompletionCreateParams.builder().model("sim-pro").addUserMessage("Hello").build();
    ChatCompletion plain = openai.chat().completions().create(params);
    plain.validate();
    ChatCompletionAccumulator accumulator = ChatCompletionAccumulator.create();
    try (var stream =
        openai
            .chat()
            .completions()
            .createStreaming(
                params.toBuilder()
                    .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
                    .build())) {
      for (ChatCompletionChunk chunk : stream.stream().toList()) {
        chunk.validate();
        accumulator.accumulate(chunk);
      }
    }
    ChatCompletion streamed = accumulator.chatCompletion();
    assertThat(streamed.choices().get(0).message().content())
        .isEqualTo(plain.choices().get(0).message().content());
    assertThat(streamed.usage()).isEqualTo(plain.usage());
  }

  @Test
  void embeddingsParseInTheSdkDefaultEncodingAndAsFloats() throws Exception {
    EmbeddingCreateParams params =
        EmbeddingCreateParams.builder().model("sim-embed").input("hello simulated world").build();
    // The SDK asks for base64 unless told otherwise: the raw answer carries a string.
    try (HttpResponseFor<CreateEmbeddingResponse> raw =
        openai.embeddings().withRawResponse().create(params)) {
      String body;
      try (InputStream in = raw.body()) {
        body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      assertThat(body).contains("\"embedding\":\"");
    }
    CreateEmbeddingResponse byDefault = openai.embeddings().create(params);
    byDefault.validate();
    CreateEmbeddingResponse asFloats =
        openai
            .embeddings()
            .create(
                params.toBuilder()
                    .encodingFormat(EmbeddingCreateParams.EncodingFormat.FLOAT)
                    .build());
    asFloats.validate();
    List<Float> vector = byDefault.data().get(0).embedding();
    assertThat(vector).hasSize(8).isEqualTo(asFloats.data().get(0).embedding());
    double norm = Math.sqrt(vector.stream().mapToDouble(v -> (double) v * v).sum());
    assertThat(norm).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
    // 3 words: ceil(3 x 4 / 3) = 4 tokens.
    assertThat(byDefault.usage().promptTokens()).isEqualTo(4);
    assertThat(byDefault.usage().totalTokens()).isEqualTo(4);
  }

  private static MessageCreateParams.Builder messageParams() {
    return MessageCreateParams.builder()
        .model("claude-sim")
        .maxTokens(100)
        .system("Be brief.")
        .addUserMessage("Hello there, how are you today?");
  }

  @Test
  void messagesPlainAndStreamedParseWithValidation() {
    Message plain = anthropic.messages().create(messageParams().build());
    plain.validate();
    String text = plain.content().get(0).asText().text();
    assertThat(plain.stopReason()).contains(StopReason.END_TURN);
    assertThat(plain.usage().inputTokens()).isEqualTo(22);
    assertThat(plain.usage().outputTokens()).isEqualTo(text.split(" ").length);
    assertThat(plain.usage().cacheReadInputTokens()).contains(0L);

    MessageAccumulator accumulator = MessageAccumulator.create();
    try (var stream = anthropic.messages().createStreaming(messageParams().build())) {
      for (RawMessageStreamEvent event : stream.stream().toList()) {
        event.validate();
        accumulator.accumulate(event);
      }
    }
    Message streamed = accumulator.message();
    streamed.validate();
    assertThat(streamed.content().get(0).asText().text()).isEqualTo(text);
    assertThat(streamed.stopReason()).contains(StopReason.END_TURN);
    assertThat(streamed.usage().inputTokens()).isEqualTo(22);
    assertThat(streamed.usage().outputTokens()).isEqualTo(plain.usage().outputTokens());

    Message cut = anthropic.messages().create(messageParams().maxTokens(3).build());
    assertThat(cut.stopReason()).contains(StopReason.MAX_TOKENS);
    assertThat(cut.usage().outputTokens()).isEqualTo(3);
  }

  @Test
  void errorsMapToTheSdkExceptions() {
    sim.fault(Fault.status(429));
    assertThatThrownBy(() -> anthropic.messages().create(messageParams().build()))
        .isInstanceOf(RateLimitException.class);
    sim.fault(Fault.status(500));
    assertThatThrownBy(() -> openai.responses().create(responseParams().build()))
        .isInstanceOf(InternalServerException.class);
    sim.fault(Fault.status(529));
    assertThatThrownBy(() -> anthropic.messages().create(messageParams().build()))
        .isInstanceOfSatisfying(
            AnthropicServiceException.class, e -> assertThat(e.statusCode()).isEqualTo(529));
    sim.fault(Fault.none());
    AnthropicClient wrongKey =
        AnthropicOkHttpClient.builder()
            .baseUrl(SimHttp.root(sim))
            .apiKey("wrong")
            .maxRetries(0)
            .build();
    try {
      assertThatThrownBy(() -> wrongKey.messages().create(messageParams().build()))
          .isInstanceOf(UnauthorizedException.class);
    } finally {
      wrongKey.close();
    }
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.CompletionUsage;
import dev.creditgate.ledger.LedgerEntry;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The credits a call was charged, in the body's {@code usage} as {@code
 * creditgate_charged_credits}: on plain answers and on the usage chunk of every stream whose client
 * asked for usage, read with raw HTTP and with the official OpenAI Java SDK, and compared with the
 * {@code X-Creditgate-Charged} header and the ledger's charge entry. PostgreSQL ledger, Redis
 * cache.
 */
class ChargedCreditsInUsageTest extends GatewayTestSupport {

  static final String FIELD = "creditgate_charged_credits";
  static final String HELLO_STREAM_WITH_USAGE =
      HELLO_STREAM.replace(
          "\"stream\":true,", "\"stream\":true,\"stream_options\":{\"include_usage\":true},");

  @Override
  Map<String, String> backend(Path tmp) throws Exception {
    return Map.of(
        "ledger.url",
        TestBackends.freshPostgresSchema("charged"),
        "cache.redis-uri",
        TestBackends.REDIS_URI,
        "cache.redis-prefix",
        TestBackends.freshRedisPrefix("charged"));
  }

  /** The account's one charge entry, once the ledger has it. */
  LedgerEntry theCharge(String account) {
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(account).size() == 1);
    return charges(account).get(0);
  }

  static List<String> events(String sse) {
    return sse.lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
  }

  /** The stream's events that carry a usage object. */
  static List<JsonNode> usageChunks(List<String> events) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String e : events) {
      if (!e.equals("[DONE]") && JSON.readTree(e).path("usage").isObject()) {
        out.add(JSON.readTree(e));
      }
    }
    return out;
  }

  static ChatCompletionCreateParams streamParamsWithUsage() {
    return params().toBuilder()
        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
        .build();
  }

  static long chargedField(CompletionUsage usage) {
    assertThat(usage._additionalProperties()).containsKey(FIELD);
    return usage._additionalProperties().get(FIELD).convert(Long.class);
  }

  @Test
  void plainAnswerUsageCarriesTheCreditsChargedBesideTheUpstreamsCounts() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode usage = JSON.readTree(r.body()).path("usage");
    assertThat(usage.path(FIELD).isIntegralNumber()).as(r.body()).isTrue();
    long inBody = usage.path(FIELD).asLong();
    assertThat(r.headers().firstValue("X-Creditgate-Charged")).hasValue(Long.toString(inBody));
    assertThat(inBody).isEqualTo(expectedCredits).isEqualTo(-theCharge(account).amount());
    assertThat(usage.path("prompt_tokens").asLong()).isEqualTo(TestUpstream.PROMPT);
    assertThat(usage.path("completion_tokens").asLong()).isEqualTo(TestUpstream.COMPLETION);
    assertThat(usage.path("prompt_tokens_details").path("cached_tokens").asLong())
        .isEqualTo(TestUpstream.CACHED);
    assertThat(JSON.readTree(r.body()).path("choices").get(0).path("message").path("content"))
        .hasToString("\"Hello from the test upstream.\"");
  }

  @Test
  void sdkKeepsThePlainAnswersChargedCreditsInTheUsagesAdditionalProperties() {
    String account = account();
    String key = userKey(account, 100_000);
    HttpResponseFor<ChatCompletion> raw =
        sdk(key).chat().completions().withRawResponse().create(params());
    ChatCompletion completion = raw.parse().validate();
    CompletionUsage usage = completion.usage().orElseThrow();
    long inBody = chargedField(usage);
    assertThat(raw.headers().values("X-Creditgate-Charged")).containsExactly(Long.toString(inBody));
    assertThat(inBody).isEqualTo(expectedCredits).isEqualTo(-theCharge(account).amount());
    assertThat(usage.promptTokens()).isEqualTo(TestUpstream.PROMPT);
  }

  @Test
  void streamWhoseClientAskedForUsageGetsTheCreditsChargedInItsUsageChunkBeforeDone()
      throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    HttpResponse<String> r = post(key, HELLO_STREAM_WITH_USAGE, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    List<String> events = events(r.body());
    assertThat(events).last().isEqualTo("[DONE]");
    JsonNode last = JSON.readTree(events.get(events.size() - 2));
    assertThat(usageChunks(events)).containsExactly(last);
    assertThat(last.path("choices").isArray() && last.path("choices").isEmpty()).isTrue();
    JsonNode usage = last.path("usage");
    assertThat(usage.path(FIELD).isIntegralNumber()).as(last.toString()).isTrue();
    assertThat(usage.path(FIELD).asLong())
        .isEqualTo(expectedCredits)
        .isEqualTo(-theCharge(account).amount());
    assertThat(usage.path("prompt_tokens").asLong()).isEqualTo(TestUpstream.PROMPT);
    assertThat(last.path("id").asText()).isEqualTo("chatcmpl-test");
    assertThat(String.join("", events)).contains("Hello", " word4");
  }

  @Test
  void sdkStreamGetsTheCreditsChargedInItsUsageChunk() {
    String account = account();
    String key = userKey(account, 100_000);
    List<ChatCompletionChunk> chunks;
    try (StreamResponse<ChatCompletionChunk> stream =
        sdk(key).chat().completions().createStreaming(streamParamsWithUsage())) {
      chunks = stream.stream().map(ChatCompletionChunk::validate).toList();
    }
    List<ChatCompletionChunk> withUsage =
        chunks.stream().filter(c -> c.usage().isPresent()).toList();
    assertThat(withUsage).hasSize(1);
    assertThat(chunks).last().isEqualTo(withUsage.get(0));
    CompletionUsage usage = withUsage.get(0).usage().orElseThrow();
    assertThat(chargedField(usage))
        .isEqualTo(expectedCredits)
        .isEqualTo(-theCharge(account).amount());
    assertThat(usage.completionTokens()).isEqualTo(TestUpstream.COMPLETION);
  }

  @Test
  void streamWhoseClientDidNotAskForUsageGetsNoUsageChunk() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    HttpResponse<String> r = post(key, HELLO_STREAM, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).doesNotContain("\"usage\"").doesNotContain(FIELD);
    assertThat(events(r.body())).last().isEqualTo("[DONE]");
    assertThat(theCharge(account).amount()).isEqualTo(-expectedCredits);
  }

  @Test
  void unmeteredCallsKeepTheUpstreamsUsageWithoutTheField() throws Exception {
    String account = account();
    ledger.openAccount(account);
    ledger.grant(account, 100_000, "seed-" + UUID.randomUUID(), "test", "seed");
    String service = server.keys().create(ApiKey.Kind.SERVICE, "", "backend").secret();
    Map<String, String> skip =
        Map.of("X-Creditgate-Account", account, "X-Creditgate-Skip-Charge", "true");

    HttpResponse<String> plain = post(service, HELLO, skip);
    assertThat(plain.statusCode()).isEqualTo(200);
    assertThat(plain.headers().firstValue("X-Creditgate-Charged")).isEmpty();
    JsonNode usage = JSON.readTree(plain.body()).path("usage");
    assertThat(usage.has(FIELD)).isFalse();
    assertThat(usage.path("prompt_tokens").asLong()).isEqualTo(TestUpstream.PROMPT);

    HttpResponse<String> stream = post(service, HELLO_STREAM_WITH_USAGE, skip);
    assertThat(stream.statusCode()).isEqualTo(200);
    List<String> events = events(stream.body());
    assertThat(events).last().isEqualTo("[DONE]");
    List<JsonNode> withUsage = usageChunks(events);
    assertThat(withUsage).hasSize(1);
    assertThat(withUsage.get(0).path("usage").has(FIELD)).isFalse();
    assertThat(withUsage.get(0).path("usage").path("prompt_tokens").asLong())
        .isEqualTo(TestUpstream.PROMPT);
    assertThat(charges(account)).isEmpty();
  }

  @Test
  void plainAnswerWithoutUsageGetsTheUsageItWasChargedForWhichTheSdkAccepts() {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.reportUsage = false;
    HttpResponseFor<ChatCompletion> raw =
        sdk(key).chat().completions().withRawResponse().create(params());
    // The SDK's response validation needs the token counts of a usage object it is given.
    CompletionUsage usage = raw.parse().validate().usage().orElseThrow();
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    assertThat(raw.headers().values("X-Creditgate-Estimated")).containsExactly("true");
    assertThat(chargedField(usage)).isEqualTo(-charge.amount()).isPositive();
    assertThat(raw.headers().values("X-Creditgate-Charged"))
        .containsExactly(Long.toString(-charge.amount()));
    assertThat(usage.promptTokens()).isEqualTo(charge.usage().inputTokens()).isPositive();
    assertThat(usage.completionTokens()).isEqualTo(charge.usage().outputTokens()).isPositive();
    assertThat(usage.totalTokens())
        .isEqualTo(charge.usage().inputTokens() + charge.usage().outputTokens());
  }

  @Test
  void streamWithoutUpstreamUsageGetsAUsageChunkOfWhatItWasChargedForWhenItsClientAsked()
      throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.reportUsage = false;
    HttpResponse<String> r = post(key, HELLO_STREAM_WITH_USAGE, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    List<String> events = events(r.body());
    assertThat(events).last().isEqualTo("[DONE]");
    JsonNode last = JSON.readTree(events.get(events.size() - 2));
    assertThat(usageChunks(events)).containsExactly(last);
    assertThat(last.path("choices").isArray() && last.path("choices").isEmpty()).isTrue();
    assertThat(last.path("object").asText()).isEqualTo("chat.completion.chunk");
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    JsonNode usage = last.path("usage");
    assertThat(usage.path(FIELD).asLong()).isEqualTo(-charge.amount()).isPositive();
    assertThat(usage.path("prompt_tokens").asLong()).isEqualTo(charge.usage().inputTokens());
    assertThat(usage.path("completion_tokens").asLong()).isEqualTo(charge.usage().outputTokens());
  }

  @Test
  void sdkStreamWithoutUpstreamUsageStillGetsTheCreditsCharged() {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.reportUsage = false;
    List<ChatCompletionChunk> chunks;
    try (StreamResponse<ChatCompletionChunk> stream =
        sdk(key).chat().completions().createStreaming(streamParamsWithUsage())) {
      chunks = stream.stream().map(ChatCompletionChunk::validate).toList();
    }
    CompletionUsage usage = chunks.get(chunks.size() - 1).usage().orElseThrow();
    assertThat(chargedField(usage)).isEqualTo(-theCharge(account).amount()).isPositive();
  }
}

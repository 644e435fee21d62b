package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.sim.SimulatedUpstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Strict credit through the gateway, tried the way a user who wants more than they paid for would:
 * many calls at once on a small balance, a call the balance cannot cover, a stream whose upstream
 * ignores its output cap. Upstreams: the simulator, which reports usage as OpenAI does.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StrictCreditGatewayTest {

  static final String ADMIN_TOKEN = "strict-credit-admin-token-0123";
  static final ObjectMapper JSON = new ObjectMapper();
  static final String HELLO =
      "{\"model\":\"pro\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";

  Path tmp;
  SimulatedUpstream slow;
  SimulatedUpstream wild;
  SimulatedUpstream fair;
  GatewayServer server;
  JdbcCreditLedger ledger;
  String base;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  void start() throws Exception {
    tmp = Files.createTempDirectory("creditgate-strict");
    // Slow enough that all of a burst of calls is admitted before the first one ends.
    slow = SimulatedUpstream.builder().latency(Duration.ofSeconds(3)).build().start();
    wild = SimulatedUpstream.builder().ignoreMaxTokens(true).tokensPerSecond(200).build().start();
    fair = SimulatedUpstream.builder().build().start();
    Map<String, String> props = new HashMap<>();
    props.put("server.port", "0");
    props.put("admin.token", ADMIN_TOKEN);
    props.put("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
    props.put("ledger.spool-dir", tmp.resolve("spool").toString());
    props.put("models.pro.base-url", slow.baseUrl());
    props.put("models.pro.model", "sim-pro");
    props.put("models.pro.provider", "simulator");
    props.put("models.pro.max-output-tokens", "100");
    props.put("models.wild.base-url", wild.baseUrl());
    props.put("models.wild.model", "sim-pro");
    props.put("models.wild.provider", "simulator");
    props.put("models.fair.base-url", fair.baseUrl());
    props.put("models.fair.model", "sim-pro");
    props.put("models.fair.provider", "simulator");
    server = GatewayServer.start(GatewayConfig.fromProperties(props, Map.of()), Map.of());
    ledger = server.ledger();
    base = "http://127.0.0.1:" + server.port();
    // A credit per input token and two per output token.
    ledger.createPriceRule(new PriceRule(0, "", "", "", 1000, 2000, 0, 0, 1_000_000, 0, 0, true));
  }

  @AfterAll
  void stop() {
    server.close();
    slow.close();
    wild.close();
    fair.close();
  }

  /** What one call of {@link #HELLO} holds: a token per byte of the body, and 100 output tokens. */
  static long worstCase() {
    return HELLO.length() + 2 * 100;
  }

  String funded(String account, long credits) {
    ledger.grant(account, credits, "g-" + UUID.randomUUID(), "test", "");
    return server.keys().create(ApiKey.Kind.USER, account, "").secret();
  }

  HttpResponse<String> post(String key, String body) throws Exception {
    return post(http, key, body);
  }

  HttpResponse<String> post(HttpClient client, String key, String body) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  List<LedgerEntry> charges(String account) {
    assertThat(ledger.awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    return ledger.entries(account, null, 1000).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  @Test
  void twoHundredConcurrentCallsOnCreditForTenNeverOverspend() throws Exception {
    String account = "strict-" + UUID.randomUUID();
    String key = funded(account, 10 * worstCase());
    ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
    List<Future<HttpResponse<String>>> calls = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      // A connection per call: a burst that shares connections makes the client's keep-alive
      // pool, not the gateway, the subject of the test.
      calls.add(pool.submit(() -> post(HttpClient.newHttpClient(), key, HELLO)));
    }
    int served = 0;
    for (Future<HttpResponse<String>> call : calls) {
      HttpResponse<String> r = call.get();
      if (r.statusCode() == 200) {
        served++;
      } else {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(402);
        assertThat(JSON.readTree(r.body()).path("error").path("code").asText())
            .isEqualTo("insufficient_credits");
      }
    }
    pool.shutdown();
    // Ten fit at once; a call that arrives after an earlier one was charged less than its hold
    // may use what that one gave back, so a slow burst can serve a few more, never overspending.
    assertThat(served).isGreaterThanOrEqualTo(10);
    assertThat(charges(account)).hasSize(served);
    assertThat(ledger.account(account).orElseThrow().balance()).isGreaterThanOrEqualTo(0);
  }

  @Test
  void theAnswerSaysWhatWasHeldChargedAndLeft() throws Exception {
    String account = "strict-" + UUID.randomUUID();
    String key = funded(account, 3 * worstCase());
    HttpResponse<String> r = post(key, HELLO);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("X-Creditgate-Reserved"))
        .hasValue(Long.toString(worstCase()));
    long charged = Long.parseLong(r.headers().firstValue("X-Creditgate-Charged").orElseThrow());
    assertThat(charged).isPositive().isLessThanOrEqualTo(worstCase());
    assertThat(r.headers().firstValue("X-Creditgate-Remaining"))
        .hasValue(Long.toString(3 * worstCase() - charged));
    // The request set no cap: the upstream was given the route's, and kept to it.
    assertThat(JSON.readTree(r.body()).path("usage").path("completion_tokens").asLong())
        .isLessThanOrEqualTo(100);
  }

  @Test
  void aCallTheBalanceCannotCoverIsRefusedSayingWhatItAffords() throws Exception {
    String account = "strict-" + UUID.randomUUID();
    String key = funded(account, worstCase() - 1);
    HttpResponse<String> r = post(key, HELLO);
    assertThat(r.statusCode()).isEqualTo(402);
    JsonNode error = JSON.readTree(r.body()).path("error");
    assertThat(error.path("code").asText()).isEqualTo("insufficient_credits");
    assertThat(error.path("message").asText()).contains("up to 100 output tokens", "affords 99");
    assertThat(charges(account)).isEmpty();
    assertThat(ledger.account(account).orElseThrow().balance()).isEqualTo(worstCase() - 1);
  }

  @Test
  void aStreamWhoseUpstreamIgnoresItsCapIsCutOffAtItsHold() throws Exception {
    String account = "strict-" + UUID.randomUUID();
    String key = funded(account, 1_000_000);
    String body =
        "{\"model\":\"wild\",\"stream\":true,\"max_tokens\":5,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story\"}]}";
    HttpResponse<String> r = post(key, body);
    assertThat(r.statusCode()).isEqualTo(200);
    List<String> events =
        r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
    assertThat(events).last().isEqualTo("[DONE]");
    JsonNode last = JSON.readTree(events.get(events.size() - 2));
    assertThat(last.path("choices").get(0).path("finish_reason").asText()).isEqualTo("length");
    assertThat(last.path("usage").path("completion_tokens").asLong()).isEqualTo(5);
    long reserved = Long.parseLong(r.headers().firstValue("X-Creditgate-Reserved").orElseThrow());
    JsonNode usage = last.path("usage");
    assertThat(charges(account))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(-e.amount()).isLessThanOrEqualTo(reserved);
              assertThat(e.usage().outputTokens()).isEqualTo(5);
              assertThat(usage.path("creditgate_charged_credits").asLong()).isEqualTo(-e.amount());
              assertThat(usage.path("prompt_tokens").asLong())
                  .isEqualTo(e.usage().inputTokens())
                  .isPositive();
              assertThat(usage.path("total_tokens").asLong())
                  .isEqualTo(e.usage().inputTokens() + 5);
            });
  }

  @Test
  void theSdkAcceptsACutOffStreamsLastChunkAndKeepsItsCharge() {
    String account = "strict-" + UUID.randomUUID();
    String key = funded(account, 1_000_000);
    OpenAIClient sdk =
        OpenAIOkHttpClient.builder().apiKey(key).baseUrl(base + "/v1").maxRetries(0).build();
    List<ChatCompletionChunk> chunks;
    try (StreamResponse<ChatCompletionChunk> stream =
        sdk.chat()
            .completions()
            .createStreaming(
                ChatCompletionCreateParams.builder()
                    .model("wild")
                    .maxCompletionTokens(5)
                    .addUserMessage("Tell me a long story")
                    .build())) {
      // validate(): the SDK's usage type requires prompt, completion and total tokens.
      chunks = stream.stream().map(ChatCompletionChunk::validate).toList();
    }
    CompletionUsage usage = chunks.get(chunks.size() - 1).usage().orElseThrow();
    assertThat(usage.completionTokens()).isEqualTo(5);
    long charged =
        usage._additionalProperties().get("creditgate_charged_credits").convert(Long.class);
    assertThat(charges(account))
        .singleElement()
        .satisfies(e -> assertThat(charged).isEqualTo(-e.amount()).isPositive());
  }

  @Test
  void aStreamThatKeepsToItsCapIsNeverCutWhateverItsWordsTokenizeTo() throws Exception {
    String account = "strict-" + UUID.randomUUID();
    String key = funded(account, 1_000_000);
    // Sixteen words ("deterministic", "simulated", ...) are more than sixteen o200k tokens; the
    // upstream counts them as sixteen, and keeps to the cap.
    String body =
        "{\"model\":\"fair\",\"stream\":true,\"max_tokens\":16,"
            + "\"stream_options\":{\"include_usage\":true},"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story\"}]}";
    Map<String, Long> chargedInBody = new HashMap<>();
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> r = post(key, body.replace("long story", "long story " + i));
      assertThat(r.statusCode()).isEqualTo(200);
      List<String> events =
          r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
      assertThat(events).last().isEqualTo("[DONE]");
      JsonNode last = JSON.readTree(events.get(events.size() - 2));
      // The upstream's own usage chunk, not a cut-off's: no choice finished for length.
      assertThat(last.path("choices").isEmpty()).isTrue();
      JsonNode usage = last.path("usage");
      assertThat(usage.path("completion_tokens").asLong()).isBetween(8L, 16L);
      assertThat(usage.path("creditgate_charged_credits").isIntegralNumber()).isTrue();
      chargedInBody.put(
          r.headers().firstValue("X-Request-Id").orElseThrow(),
          usage.path("creditgate_charged_credits").asLong());
    }
    assertThat(charges(account))
        .hasSize(5)
        .allSatisfy(
            e -> {
              assertThat(e.estimated()).isFalse();
              assertThat(chargedInBody).containsEntry(e.requestId(), -e.amount());
            });
  }
}

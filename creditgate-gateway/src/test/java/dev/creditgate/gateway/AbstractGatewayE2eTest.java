package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import dev.creditgate.ledger.LedgerEntry;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The gateway end to end over real sockets: gateway on a random port, an OpenAI-protocol upstream
 * on another, the official OpenAI Java SDK and raw HTTP as clients, a real ledger and cache behind.
 * Subclasses choose the backends (SQLite + in-process cache, PostgreSQL + Redis).
 */
abstract class AbstractGatewayE2eTest extends GatewayTestSupport {

  /**
   * Whether the backend writes charges behind the answer ({@code ledger.write-behind}, the
   * default).
   */
  boolean writeBehind() {
    return true;
  }

  @Test
  void sdkNonStreamingCompletionIsChargedThePriceOfTheReportedUsage() {
    String account = account();
    String key = userKey(account, 100_000);
    ChatCompletion completion = sdk(key).chat().completions().create(params());

    assertThat(completion.choices().get(0).message().content().orElseThrow())
        .contains("Hello from the test upstream");
    assertThat(expectedCredits).isEqualTo(8800);
    List<LedgerEntry> charges = charges(account);
    assertThat(charges).hasSize(1);
    assertThat(charges.get(0).amount()).isEqualTo(-expectedCredits);
    assertThat(charges.get(0).usage()).isEqualTo(REPORTED);
    assertThat(charges.get(0).estimated()).isFalse();
    assertThat(balance(account)).isEqualTo(100_000 - expectedCredits);
    JsonNode sent = upstream.requests.get(0);
    assertThat(sent.path("model").asText()).isEqualTo("test-model-pro");
    assertThat(upstream.authorizations.get(0)).isEqualTo("Bearer sk-upstream-secret");
  }

  @Test
  void sdkStreamingCompletionIsChargedFromTheUsageChunk() {
    String account = account();
    String key = userKey(account, 100_000);
    StringBuilder text = new StringBuilder();
    try (StreamResponse<ChatCompletionChunk> stream =
        sdk(key).chat().completions().createStreaming(params())) {
      stream.stream()
          .forEach(
              chunk -> chunk.choices().forEach(c -> c.delta().content().ifPresent(text::append)));
    }
    assertThat(text.toString()).startsWith("Hello word1");
    assertThat(upstream.requests.get(0).path("stream_options").path("include_usage").asBoolean())
        .isTrue();
    await().atMost(Duration.ofSeconds(5)).until(() -> charges(account).size() == 1);
    LedgerEntry charge = charges(account).get(0);
    assertThat(charge.amount()).isEqualTo(-expectedCredits);
    assertThat(charge.usage()).isEqualTo(REPORTED);
    assertThat(balance(account)).isEqualTo(100_000 - expectedCredits);
  }

  @Test
  void nonStreamingResponseCarriesChargeBalanceAndRequestIdHeaders() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    HttpResponse<String> r =
        post(key, HELLO, Map.of("X-Request-Id", "trace-42", "X-Creditgate-Scene", "chat"));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("X-Request-Id")).hasValue("trace-42");
    assertThat(r.headers().firstValue("X-Creditgate-Charged"))
        .hasValue(Long.toString(expectedCredits));
    if (writeBehind()) {
      // The charge is written behind the answer, so the balance after it is not known yet.
      assertThat(r.headers().firstValue("X-Creditgate-Balance")).isEmpty();
    } else {
      assertThat(r.headers().firstValue("X-Creditgate-Balance"))
          .hasValue(Long.toString(100_000 - expectedCredits));
    }
    assertThat(balance(account)).isEqualTo(100_000 - expectedCredits);
    LedgerEntry charge = charges(account).get(0);
    assertThat(charge.requestId()).isEqualTo("trace-42");
    assertThat(charge.scene()).isEqualTo("chat");
  }

  @Test
  void accountWithoutCreditGets402AndTheUpstreamIsNeverCalledUntilATopUp() throws Exception {
    String account = account();
    String key = userKey(account, 0);
    HttpResponse<String> denied = post(key, HELLO, Map.of());
    assertThat(denied.statusCode()).isEqualTo(402);
    assertThat(JSON.readTree(denied.body()))
        .isEqualTo(
            JSON.readTree(
                "{\"error\":{\"message\":\"credit balance is insufficient\",\"type\":\"insufficient_credits\","
                    + "\"param\":null,\"code\":\"credit_balance_blocked\"}}"));
    assertThat(upstream.requests).isEmpty();

    ledger.grant(account, 50_000, "topup-" + UUID.randomUUID(), "test", "top-up");
    HttpResponse<String> ok = post(key, HELLO, Map.of());
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(upstream.requests).hasSize(1);
    assertThat(balance(account)).isEqualTo(50_000 - expectedCredits);
  }

  @Test
  void blockedAccountWithPositiveBalanceIsDeniedAndUnblockRestoresIt() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    ledger.block(account, "block-" + UUID.randomUUID(), "test", "abuse");
    OpenAIServiceException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            OpenAIServiceException.class, () -> sdk(key).chat().completions().create(params()));
    assertThat(e.statusCode()).isEqualTo(402);
    assertThat(upstream.requests).isEmpty();
    ledger.unblock(account, "unblock-" + UUID.randomUUID(), "test", "ok");
    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(200);
  }

  @Test
  void serviceKeyChargesTheNamedAccountAndSkipChargeIsAdmittedFree() throws Exception {
    String account = account();
    ledger.openAccount(account);
    ledger.grant(account, 100_000, "seed-" + UUID.randomUUID(), "test", "seed");
    String service = server.keys().create(ApiKey.Kind.SERVICE, "", "backend").secret();

    HttpResponse<String> skipped =
        post(
            service,
            HELLO,
            Map.of("X-Creditgate-Account", account, "X-Creditgate-Skip-Charge", "true"));
    assertThat(skipped.statusCode()).isEqualTo(200);
    assertThat(charges(account)).isEmpty();
    assertThat(balance(account)).isEqualTo(100_000);

    HttpResponse<String> charged = post(service, HELLO, Map.of("X-Creditgate-Account", account));
    assertThat(charged.statusCode()).isEqualTo(200);
    assertThat(charges(account)).hasSize(1);

    String broke = account();
    ledger.openAccount(broke);
    HttpResponse<String> skippedBroke =
        post(
            service,
            HELLO,
            Map.of("X-Creditgate-Account", broke, "X-Creditgate-Skip-Charge", "true"));
    assertThat(skippedBroke.statusCode()).isEqualTo(200);
    assertThat(charges(broke)).isEmpty();
  }

  @Test
  void userKeyCannotActForAnotherAccountOrSkipCharging() throws Exception {
    String mine = account();
    String other = account();
    String key = userKey(mine, 100_000);
    userKey(other, 100_000);
    HttpResponse<String> r = post(key, HELLO, Map.of("X-Creditgate-Account", other));
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(JSON.readTree(r.body()).path("error").path("code").asText())
        .isEqualTo("forbidden_header");
    assertThat(post(key, HELLO, Map.of("X-Creditgate-Skip-Charge", "true")).statusCode())
        .isEqualTo(403);
    assertThat(upstream.requests).isEmpty();
    assertThat(balance(other)).isEqualTo(100_000);
    assertThat(balance(mine)).isEqualTo(100_000);
  }

  @Test
  void badOrRevokedKeysAre401() throws Exception {
    String account = account();
    ApiKeyStore.CreatedKey created = server.keys().create(ApiKey.Kind.USER, account, "x");
    ledger.openAccount(account);
    ledger.grant(account, 100_000, "seed-" + UUID.randomUUID(), "test", "seed");
    assertThat(post(created.secret(), HELLO, Map.of()).statusCode()).isEqualTo(200);
    server.keys().revoke(created.key().id());
    assertThat(post(created.secret(), HELLO, Map.of()).statusCode()).isEqualTo(401);
    assertThat(post(null, HELLO, Map.of()).statusCode()).isEqualTo(401);
    assertThat(post("cgk_not-a-real-key", HELLO, Map.of()).statusCode()).isEqualTo(401);
    assertThat(upstream.requests).hasSize(1);
  }

  @Test
  void sameIdempotencyKeyIsNotChargedTwice() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    Map<String, String> headers = Map.of("Idempotency-Key", "call-" + UUID.randomUUID());
    assertThat(post(key, HELLO, headers).statusCode()).isEqualTo(200);
    HttpResponse<String> retry = post(key, HELLO, headers);
    assertThat(retry.statusCode()).isEqualTo(409);
    assertThat(JSON.readTree(retry.body()).path("error").path("code").asText())
        .isEqualTo("idempotency_key_reused");
    assertThat(charges(account)).hasSize(1);
    assertThat(balance(account)).isEqualTo(100_000 - expectedCredits);
    assertThat(upstream.requests).hasSize(1);
  }

  @Test
  void streamIsPassedThroughBeforeTheUpstreamHasSentTheLastChunk() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    CountDownLatch release = upstream.holdStream();
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(HELLO_STREAM))
            .build();
    HttpResponse<InputStream> response =
        http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type").orElse(""))
        .startsWith("text/event-stream");
    BufferedReader reader =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
    String first = reader.readLine();
    // The upstream is still held after its first chunk: the client has it before the rest exists.
    assertThat(first).startsWith("data: ").contains("\"Hello\"");
    assertThat(upstream.streamsFinished.get()).isZero();
    assertThat(charges(account)).isEmpty();
    release.countDown();
    StringBuilder rest = new StringBuilder();
    for (String line; (line = reader.readLine()) != null; ) {
      rest.append(line).append('\n');
    }
    // The gateway asked the upstream for usage; this client did not, so it does not see that chunk.
    assertThat(rest.toString()).doesNotContain("\"usage\"").contains("data: [DONE]");
    await().atMost(Duration.ofSeconds(5)).until(() -> charges(account).size() == 1);
    assertThat(charges(account).get(0).amount()).isEqualTo(-expectedCredits);
  }

  @Test
  void streamDoneReachesTheClientOnlyAfterItsChargeIsInTheLedger() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    for (int i = 0; i < 10; i++) {
      HttpRequest request =
          HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
              .header("Authorization", "Bearer " + key)
              .header("Idempotency-Key", "done-order-" + i)
              .POST(HttpRequest.BodyPublishers.ofString(HELLO_STREAM))
              .build();
      HttpResponse<InputStream> response =
          http.send(request, HttpResponse.BodyHandlers.ofInputStream());
      boolean done = false;
      try (BufferedReader reader =
          new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
        for (String line; (line = reader.readLine()) != null; ) {
          if (line.equals("data: [DONE]")) {
            // The client holds a complete stream: a gateway crash from here on must not lose its
            // charge, so the charge is already committed (no waiting here).
            assertThat(charges(account)).hasSize(i + 1);
            done = true;
            break;
          }
        }
      }
      assertThat(done).isTrue();
    }
  }

  @Test
  void clientDisconnectMidStreamIsStillChargedOnce() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    CountDownLatch release = upstream.holdStream();
    upstream.chunkDelayMillis = 20;
    upstream.chunks = 40;
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      byte[] body = HELLO_STREAM.getBytes(StandardCharsets.UTF_8);
      OutputStream out = socket.getOutputStream();
      out.write(
          ("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                  + key
                  + "\r\nIdempotency-Key: disc-1\r\nContent-Type: application/json\r\nContent-Length: "
                  + body.length
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.write(body);
      out.flush();
      BufferedReader reader =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      for (String line; (line = reader.readLine()) != null; ) {
        if (line.contains("\"Hello\"")) {
          break;
        }
      }
      socket.setSoLinger(true, 0);
    }
    release.countDown();
    await().atMost(Duration.ofSeconds(10)).until(() -> upstream.streamsFinished.get() == 1);
    await().atMost(Duration.ofSeconds(5)).until(() -> charges(account).size() == 1);
    TimeUnit.MILLISECONDS.sleep(200);
    List<LedgerEntry> charges = charges(account);
    assertThat(charges).hasSize(1);
    assertThat(charges.get(0).eventId()).isEqualTo("disc-1");
    assertThat(charges.get(0).amount()).isEqualTo(-expectedCredits);
    assertThat(charges.get(0).estimated()).isFalse();
  }

  @Test
  void streamWithoutUsageIsChargedAnEstimateMarkedEstimated() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.reportUsage = false;
    HttpResponse<String> r = post(key, HELLO_STREAM, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(5)).until(() -> charges(account).size() == 1);
    LedgerEntry charge = charges(account).get(0);
    assertThat(charge.estimated()).isTrue();
    assertThat(charge.usage().inputTokens()).isPositive();
    assertThat(charge.usage().outputTokens()).isPositive();
    assertThat(charge.amount()).isNegative();
  }

  @Test
  void upstreamErrorIsPassedBackAndNotCharged() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.failStatus = 429;
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(429);
    assertThat(JSON.readTree(r.body()).path("error").path("code").asText()).isEqualTo("boom");
    HttpResponse<String> s = post(key, HELLO_STREAM, Map.of());
    assertThat(s.statusCode()).isEqualTo(429);
    assertThat(charges(account)).isEmpty();
    assertThat(balance(account)).isEqualTo(100_000);
  }

  @Test
  void unknownAliasIs404AndUnreachableOrUnconfiguredAliasIs503ForThatAliasOnly() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    HttpResponse<String> unknown =
        post(key, HELLO.replace("\"pro\"", "\"gpt-nonsense\""), Map.of());
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(unknown.body()).path("error").path("code").asText())
        .isEqualTo("model_not_found");
    HttpResponse<String> max = post(key, HELLO.replace("\"pro\"", "\"max\""), Map.of());
    assertThat(max.statusCode()).isEqualTo(503);
    assertThat(JSON.readTree(max.body()).path("error").path("code").asText())
        .isEqualTo("runtime_not_ready");
    HttpResponse<String> lite = post(key, HELLO.replace("\"pro\"", "\"lite\""), Map.of());
    assertThat(lite.statusCode()).isEqualTo(503);
    HttpResponse<String> empty = post(key, HELLO.replace("\"model\":\"pro\",", ""), Map.of());
    assertThat(empty.statusCode()).isEqualTo(200);
    assertThat(upstream.requests).hasSize(1);
    assertThat(charges(account)).hasSize(1);
  }

  @Test
  void modelsListsTheAliasesWithReadiness() throws Exception {
    String key = userKey(account(), 0);
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/models"))
                .header("Authorization", "Bearer " + key)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode data = JSON.readTree(r.body()).path("data");
    assertThat(data.findValuesAsText("id")).containsExactly("lite", "pro", "max");
    assertThat(data.get(1).path("ready").asBoolean()).isTrue();
    assertThat(data.get(2).path("ready").asBoolean()).isFalse();
  }

  @Test
  void concurrentCallsForOneAccountAreEachChargedOnce() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    int calls = 24;
    java.util.List<java.util.concurrent.Future<Integer>> results = new java.util.ArrayList<>();
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < calls; i++) {
        String body = i % 2 == 0 ? HELLO : HELLO_STREAM;
        results.add(pool.submit(() -> post(key, body, Map.of()).statusCode()));
      }
      for (var f : results) {
        assertThat(f.get()).isEqualTo(200);
      }
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(account).size() == calls);
    assertThat(charges(account)).extracting(LedgerEntry::eventId).doesNotHaveDuplicates();
    assertThat(balance(account)).isEqualTo(1_000_000 - calls * expectedCredits);
  }

  @Test
  void clientThatAsksForStreamUsageGetsTheUsageChunk() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    HttpResponse<String> r =
        post(
            key,
            HELLO_STREAM.replace(
                "\"stream\":true,", "\"stream\":true,\"stream_options\":{\"include_usage\":true},"),
            Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"usage\":{\"prompt_tokens\":1200").contains("data: [DONE]");
    await().atMost(Duration.ofSeconds(5)).until(() -> charges(account).size() == 1);
  }
}

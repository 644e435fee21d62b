package dev.creditgate.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import dev.creditgate.pricing.Usage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInstance;

/**
 * Starts a gateway per test class on a random port with a real ledger and cache (the subclass
 * chooses which) and an OpenAI-protocol test upstream on another port, plus helpers to call it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class GatewayTestSupport {

  static final String ADMIN_TOKEN = "test-admin-token-0123456789";
  static final PriceRule RULE =
      new PriceRule(0, "", "", "", 3200, 16000, 800, 16000, 1_000_000, 0, 0, true);
  static final Usage REPORTED =
      new Usage(
          TestUpstream.PROMPT,
          TestUpstream.COMPLETION,
          TestUpstream.CACHED,
          TestUpstream.REASONING);
  static final ObjectMapper JSON = new ObjectMapper();

  Path tmp;

  TestUpstream upstream;
  GatewayServer server;
  JdbcCreditLedger ledger;
  String base;
  long expectedCredits;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** The backend part of the config: ledger URL, spool dir, Redis. */
  abstract Map<String, String> backend(Path tmp) throws Exception;

  /**
   * One gateway per test class (tests use accounts of their own); the upstream is reset per test.
   */
  @BeforeAll
  void startGateway() throws Exception {
    tmp = java.nio.file.Files.createTempDirectory("creditgate-gateway-test");
    upstream = new TestUpstream();
    Map<String, String> props = new HashMap<>();
    props.put("server.port", "0");
    props.put("admin.token", ADMIN_TOKEN);
    props.put("ledger.spool-dir", tmp.resolve("spool").toString());
    props.put("upstream.idle-timeout", "5s");
    props.put("models.pro.base-url", upstream.baseUrl());
    props.put("models.pro.model", "test-model-pro");
    props.put("models.pro.provider", "testai");
    props.put("models.pro.api-key-env", "TEST_UPSTREAM_KEY");
    // Strict credit holds a call's worst case: the test upstream's answers (340 output tokens)
    // fit in this cap, and the tests' balances cover a few calls at once.
    props.put("models.pro.max-output-tokens", "1000");
    props.put("models.max.base-url", "http://127.0.0.1:1");
    props.put("models.max.model", "nowhere");
    // The one pricing scene the tests' user keys may name (keys.user-scenes; a test's backend may
    // set others).
    props.put("keys.user-scenes", "chat");
    props.putAll(backend(tmp));
    server =
        GatewayServer.start(
            GatewayConfig.fromProperties(props, Map.of()),
            Map.of("TEST_UPSTREAM_KEY", "sk-upstream-secret"));
    ledger = server.ledger();
    base = "http://127.0.0.1:" + server.port();
    PriceRule stored = ledger.createPriceRule(RULE);
    expectedCredits = Pricing.quote(stored, REPORTED).credits();
  }

  @BeforeEach
  void resetUpstream() {
    upstream.reset();
  }

  @AfterAll
  void stopGateway() {
    if (server != null) {
      server.close();
    }
    if (upstream != null) {
      upstream.close();
    }
    deleteRecursively(tmp);
  }

  String account() {
    return "acct-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** A funded account and a user key for it. */
  String userKey(String account, long credits) {
    ledger.openAccount(account);
    if (credits > 0) {
      ledger.grant(account, credits, "seed-" + UUID.randomUUID(), "test", "seed");
    }
    return server.keys().create(ApiKey.Kind.USER, account, "test").secret();
  }

  OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().apiKey(key).baseUrl(base + "/v1").maxRetries(0).build();
  }

  static ChatCompletionCreateParams params() {
    return ChatCompletionCreateParams.builder().model("pro").addUserMessage("Say hello").build();
  }

  List<LedgerEntry> charges(String account) {
    return ledger.entries(account, null, 100).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  /**
   * Starts a streamed call and returns its body once the first event (the "Hello" chunk) arrived.
   */
  java.io.BufferedReader startStream(String key) throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(HELLO_STREAM))
            .build();
    HttpResponse<java.io.InputStream> response =
        http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    java.io.BufferedReader reader =
        new java.io.BufferedReader(
            new java.io.InputStreamReader(
                response.body(), java.nio.charset.StandardCharsets.UTF_8));
    org.assertj.core.api.Assertions.assertThat(reader.readLine()).contains("\"Hello\"");
    return reader;
  }

  /**
   * The charges of {@code account}, read from a SQLite ledger at {@code tmp} after the gateway
   * closed.
   */
  List<LedgerEntry> chargesInClosedSqliteLedger(String account) {
    try (dev.creditgate.ledger.jdbc.JdbcCreditLedger reopened =
        dev.creditgate.ledger.jdbc.JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("creditgate.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .build()) {
      org.assertj.core.api.Assertions.assertThat(reopened.stats().spoolPending()).isZero();
      return reopened.entries(account, null, 100).items().stream()
          .filter(e -> e.kind() == EntryKind.CHARGE)
          .toList();
    }
  }

  long balance(String account) {
    return ledger.account(account).orElseThrow().balance();
  }

  HttpResponse<String> post(String key, String body, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(20))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    headers.forEach(b::header);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static final String HELLO =
      "{\"model\":\"pro\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
  static final String HELLO_STREAM =
      "{\"model\":\"pro\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";

  HttpResponse<String> admin(String method, String path, String body, Map<String, String> headers)
      throws Exception {
    return adminAs(ADMIN_TOKEN, method, path, body, headers);
  }

  /** An admin request with {@code token} as the bearer token. */
  HttpResponse<String> adminAs(
      String token, String method, String path, String body, Map<String, String> headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + "/admin/v1" + path))
            .timeout(Duration.ofSeconds(20))
            .header("Authorization", "Bearer " + token)
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    headers.forEach(b::header);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void deleteRecursively(Path dir) {
    if (dir == null) {
      return;
    }
    try (var paths = java.nio.file.Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException e) {
      // A leftover temporary directory is harmless.
    }
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String code(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body()).path("error").path("code").asText();
  }
}

package dev.creditgate.gateway;

import static org.awaitility.Awaitility.await;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import dev.creditgate.pricing.Usage;
import dev.creditgate.sim.SimulatedUpstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * A gateway on PostgreSQL and Redis in front of the simulator, which serves every API: aliases
 * {@code pro} (OpenAI protocol: chat, responses), {@code embed} (OpenAI protocol: embeddings),
 * {@code claude} (Anthropic protocol: messages), and {@code wild} and {@code wild-claude}, one per
 * protocol, to a simulator that ignores output caps. One price rule prices every call.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SimulatorGatewaySupport {

  static final String FIELD = "creditgate_charged_credits";
  static final ObjectMapper JSON = new ObjectMapper();

  /** Every route's output cap when a call names none. */
  static final long ROUTE_CAP = 200;

  SimulatedUpstream sim;
  SimulatedUpstream wild;
  GatewayServer server;
  JdbcCreditLedger ledger;
  PriceRule rule;
  String base;
  Path tmp;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  void start() throws Exception {
    tmp = Files.createTempDirectory("creditgate-apis-test");
    Map<String, String> props = new HashMap<>();
    props.put("server.port", "0");
    props.put("admin.token", GatewayTestSupport.ADMIN_TOKEN);
    props.put("ledger.spool-dir", tmp.resolve("spool").toString());
    props.put("ledger.url", TestBackends.freshPostgresSchema("apis"));
    props.put("cache.redis-uri", TestBackends.REDIS_URI);
    props.put("cache.redis-prefix", TestBackends.freshRedisPrefix("apis"));
    props.put("upstream.idle-timeout", "5s");
    configure(props);
    server = GatewayServer.start(GatewayConfig.fromProperties(props, Map.of()), Map.of());
    ledger = server.ledger();
    base = "http://127.0.0.1:" + server.port();
    rule =
        ledger.createPriceRule(
            new PriceRule(0, "", "", "", 3200, 16000, 800, 16000, 1_000_000, 0, 0, true));
    started();
  }

  /** Adds the upstreams and routes (and any other settings) to the gateway's configuration. */
  void configure(Map<String, String> props) {
    sim = SimulatedUpstream.builder().build().start();
    wild = SimulatedUpstream.builder().ignoreMaxTokens(true).build().start();
    route(props, "pro", sim, "openai", "sim-pro");
    route(props, "embed", sim, "openai", "sim-embed");
    route(props, "claude", sim, "anthropic", "sim-claude");
    route(props, "wild", wild, "openai", "sim-pro");
    route(props, "wild-claude", wild, "anthropic", "sim-claude");
  }

  /** Called once the gateway runs, with the catch-all price rule in place. */
  void started() {}

  private static void route(
      Map<String, String> props,
      String alias,
      SimulatedUpstream to,
      String protocol,
      String model) {
    props.put("models." + alias + ".base-url", to.baseUrl());
    props.put("models." + alias + ".model", model);
    props.put("models." + alias + ".protocol", protocol);
    props.put("models." + alias + ".provider", protocol);
    props.put("models." + alias + ".max-output-tokens", Long.toString(ROUTE_CAP));
  }

  @AfterAll
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    if (sim != null) {
      sim.close();
    }
    if (wild != null) {
      wild.close();
    }
    try (var paths = Files.walk(tmp)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  String account() {
    return "acct-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** An account with {@code credits} and a user key for it. */
  String userKey(String account, long credits) {
    ledger.openAccount(account);
    if (credits > 0) {
      ledger.grant(account, credits, "seed-" + UUID.randomUUID(), "test", "seed");
    }
    return server.keys().create(ApiKey.Kind.USER, account, "test").secret();
  }

  /** The credits the price rule asks for {@code usage}. */
  long credits(Usage usage) {
    return Pricing.quote(rule, usage).credits();
  }

  List<LedgerEntry> charges(String account) {
    return ledger.entries(account, null, 100).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  /** The account's one charge entry, once the ledger has it. */
  LedgerEntry theCharge(String account) {
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(account).size() == 1);
    return charges(account).get(0);
  }

  long balance(String account) {
    return ledger.account(account).orElseThrow().balance();
  }

  OpenAIClient openai(String key) {
    return OpenAIOkHttpClient.builder().apiKey(key).baseUrl(base + "/v1").maxRetries(0).build();
  }

  AnthropicClient anthropic(String key) {
    return AnthropicOkHttpClient.builder().apiKey(key).baseUrl(base).maxRetries(0).build();
  }

  HttpResponse<String> post(String path, String key, String body, Map<String, String> headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(20))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    headers.forEach(b::header);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The {@code data:} payloads of an SSE body, parsed, with their {@code event:} names. */
  static List<Map.Entry<String, JsonNode>> events(String sse) throws Exception {
    List<Map.Entry<String, JsonNode>> out = new java.util.ArrayList<>();
    String type = "";
    for (String line : sse.split("\n")) {
      if (line.startsWith("event: ")) {
        type = line.substring(7).trim();
      } else if (line.startsWith("data: ")) {
        out.add(Map.entry(type, JSON.readTree(line.substring(6))));
        type = "";
      }
    }
    return out;
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.sim.Fault;
import dev.creditgate.sim.SimulatedUpstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code GET /admin/v1/overview} on a gateway in front of SIMULATED upstreams, its minutes read
 * from a clock the test moves: admitted calls, calls denied for each reason (an unfunded, a
 * blocked, a nearly empty and an unknown account, a key past its concurrency limit), a failed
 * upstream attempt and the charges all land in the current minute as the ledger recorded them, and
 * move to the previous minute when the clock does; the gauges show a call's hold while it is in
 * flight and each upstream's readiness; only the admin token reads it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdminOverviewTest {

  private static final String HELLO =
      "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
  private static final String HELLO_STREAM =
      "{\"model\":\"pro\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

  /** A minute's start plus 30 s: the calls all fall in the minute that starts at 12:00. */
  private final AtomicLong millis =
      new AtomicLong(Instant.parse("2025-01-31T12:00:30Z").toEpochMilli());

  private final InstantSource clock = () -> Instant.ofEpochMilli(millis.get());
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private Path tmp;
  private SimulatedUpstream sim;
  private SimulatedUpstream failing;
  private SimulatedUpstream slow;
  private SnapshotPublisher publisher;
  private JdbcCreditLedger ledger;
  private ApiKeyStore keys;
  private Gateway gateway;
  private String base;

  @BeforeAll
  void start() throws Exception {
    tmp = Files.createTempDirectory("creditgate-overview-test");
    sim = SimulatedUpstream.builder().build().start();
    failing = SimulatedUpstream.builder().fault(Fault.status(500)).build().start();
    slow = SimulatedUpstream.builder().latency(Duration.ofSeconds(2)).build().start();
    InMemoryCreditCache cache = InMemoryCreditCache.create();
    publisher = SnapshotPublisher.builder(cache).build();
    ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("c.db"))
            .spoolDirectory(tmp.resolve("spool"))
            .commitListener(publisher::publishAll)
            .build();
    ApiKeyStore.migrate(ledger.dataSource());
    keys = new ApiKeyStore(ledger.dataSource(), java.time.Clock.systemUTC());
    ledger.createPriceRule(GatewayTestSupport.RULE);
    Map<String, String> props = new HashMap<>();
    props.put("server.port", "0");
    props.put("admin.token", GatewayTestSupport.ADMIN_TOKEN);
    props.put("limits.max-concurrent-per-key", "1");
    route(props, "pro", sim);
    route(props, "flaky", failing);
    route(props, "slow", slow);
    route(props, "duo", sim);
    props.put("models.duo.upstreams.0.base-url", "http://127.0.0.1:1");
    props.put("models.duo.upstreams.0.model", "nowhere");
    gateway =
        Gateway.builder()
            .config(GatewayConfig.fromProperties(props, Map.of()))
            .ledger(ledger)
            .cache(cache)
            .publisher(publisher)
            .keys(keys)
            .clock(clock)
            .build()
            .start();
    base = "http://127.0.0.1:" + gateway.port();
  }

  private static void route(Map<String, String> props, String alias, SimulatedUpstream to) {
    props.put("models." + alias + ".base-url", to.baseUrl());
    props.put("models." + alias + ".model", "sim-pro");
    props.put("models." + alias + ".provider", "openai");
    props.put("models." + alias + ".max-output-tokens", "200");
  }

  @AfterAll
  void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {gateway, ledger, publisher, sim, failing, slow}) {
      if (c != null) {
        c.close();
      }
    }
    try (var paths = Files.walk(tmp)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Test
  void callsLandInTheCurrentMinuteByOutcomeAndMoveBackWhenTheMinuteEnds() throws Exception {
    String funded = key("funded", 1_000_000);
    String waiting = key("waiting", 1_000_000);
    String unfunded = key("unfunded", 0);
    String blocked = key("blocked", 1_000_000);
    ledger.block("blocked", "block-1", "test", "abuse");
    // Positive, so the guard admits it; the call's worst case does not fit, so the meter denies.
    String poor = key("poor", 1);
    String ghost = keys.create(ApiKey.Kind.USER, "ghost", "").secret();

    assertThat(call(funded, HELLO.formatted("pro")).statusCode()).isEqualTo(200);
    assertThat(call(funded, HELLO.formatted("pro")).statusCode()).isEqualTo(200);
    assertThat(call(funded, HELLO_STREAM).statusCode()).isEqualTo(200);
    assertThat(call(funded, HELLO.formatted("flaky")).statusCode()).isEqualTo(500);
    for (String denied : List.of(unfunded, blocked, poor, ghost)) {
      assertThat(call(denied, HELLO.formatted("pro")).statusCode()).isEqualTo(402);
    }
    assertThat(call("cgk_not-a-key", HELLO.formatted("pro")).statusCode()).isEqualTo(401);

    // One call in flight holds its worst case; the same key's next call is past its limit.
    CompletableFuture<HttpResponse<String>> inFlight =
        http.sendAsync(
            request(waiting, HELLO.formatted("slow")), HttpResponse.BodyHandlers.ofString());
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> overview().path("open_holds").path("count").asLong() == 1);
    JsonNode during = overview();
    assertThat(during.path("open_holds").path("credits").asLong()).isPositive();
    assertThat(call(waiting, HELLO.formatted("slow")).statusCode()).isEqualTo(429);
    assertThat(inFlight.get().statusCode()).isEqualTo(200);

    assertThat(ledger.awaitCharges("funded", Duration.ofSeconds(10))).isTrue();
    assertThat(ledger.awaitCharges("waiting", Duration.ofSeconds(10))).isTrue();
    List<LedgerEntry> charges = new ArrayList<>(charges("funded"));
    charges.addAll(charges("waiting"));
    assertThat(charges).hasSize(4);
    long credits = charges.stream().mapToLong(e -> -e.amount()).sum();
    assertThat(credits).isPositive();
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> current(overview()).path("charges").asLong() == 4);

    JsonNode body = overview();
    assertThat(body.path("open_holds").path("count").asLong()).isZero();
    assertThat(body.path("open_holds").path("credits").asLong()).isZero();
    assertThat(body.path("now").asText()).isEqualTo("2025-01-31T12:00:30Z");
    assertThat(body.path("minute_seconds").asInt()).isEqualTo(60);
    JsonNode minutes = body.path("minutes");
    assertThat(minutes).hasSize(60);
    JsonNode now = current(body);
    assertThat(now.path("start").asText()).isEqualTo("2025-01-31T12:00:00Z");
    assertThat(minutes.get(0).path("start").asText()).isEqualTo("2025-01-31T11:01:00Z");
    // 3 answered, 1 upstream 500, 4 denied, 1 bad key, 1 held and 1 past the limit.
    assertThat(now.path("requests").asLong()).isEqualTo(11);
    assertThat(now.path("admitted").asLong()).isEqualTo(5);
    assertThat(JSON.convertValue(now.path("denied"), Map.class))
        .isEqualTo(
            Map.of(
                "denied_non_positive_balance", 1,
                "denied_blocked_marker", 1,
                "denied_insufficient_credit", 1,
                "denied_unknown_account", 1,
                "concurrency_key", 1));
    assertThat(now.path("failed_open").asLong()).isZero();
    assertThat(now.path("upstream_errors").asLong()).isEqualTo(1);
    assertThat(now.path("charges").asLong()).isEqualTo(4);
    assertThat(now.path("credits_charged").asLong()).isEqualTo(credits);
    for (int i = 0; i < 59; i++) {
      assertThat(minutes.get(i).path("requests").asLong()).as("minute %d", i).isZero();
    }
    assertThat(body.path("deny_reasons"))
        .extracting(JsonNode::asText)
        .contains("denied_insufficient_credit", "concurrency_key", "concurrency_account")
        .doesNotContain("balance_positive");
    // Totals only: no account, key or event id is named.
    for (String secret : List.of("funded", "unfunded", "ghost", funded, ghost, "evt_")) {
      assertThat(body.toString()).doesNotContain(secret);
    }

    millis.addAndGet(Duration.ofSeconds(30).toMillis());
    JsonNode later = overview();
    assertThat(later.path("minutes").get(58)).isEqualTo(now);
    assertThat(current(later).path("start").asText()).isEqualTo("2025-01-31T12:01:00Z");
    assertThat(current(later).path("requests").asLong()).isZero();
    assertThat(call(funded, HELLO.formatted("pro")).statusCode()).isEqualTo(200);
    assertThat(current(overview()).path("requests").asLong()).isEqualTo(1);
    assertThat(overview().path("minutes").get(58).path("requests").asLong()).isEqualTo(11);
  }

  @Test
  void theGaugesShowTheSpoolAndEachUpstreamsReadiness() throws Exception {
    JsonNode body = overview();
    assertThat(body.path("spool").path("records").asLong()).isZero();
    assertThat(body.path("spool").path("replay_lag_ms").asLong()).isZero();
    assertThat(body.path("queued_charges").asLong()).isNotNegative();
    JsonNode readiness = body.path("readiness");
    assertThat(readiness.path("status").asText()).isEqualTo("ready");
    assertThat(readiness.path("ledger").asText()).isEqualTo("up");
    assertThat(readiness.path("cache").asText()).isEqualTo("up");
    Map<String, JsonNode> aliases = new HashMap<>();
    readiness.path("aliases").forEach(a -> aliases.put(a.path("alias").asText(), a));
    assertThat(aliases).containsKeys("pro", "flaky", "slow", "duo");
    // The default configuration's "max" alias, which this gateway gave no upstream.
    assertThat(aliases.get("max").path("ready").asBoolean()).isFalse();
    assertThat(aliases.get("max").path("problem").asText()).isEqualTo("no upstream is configured");
    assertThat(aliases.get("max").path("upstreams")).isEmpty();
    JsonNode pro = aliases.get("pro");
    assertThat(pro.path("ready").asBoolean()).isTrue();
    assertThat(pro.path("problem").isNull()).isTrue();
    assertThat(pro.path("upstreams")).hasSize(1);
    assertThat(pro.path("upstreams").get(0).path("breaker").asText()).isEqualTo("none");
    assertThat(pro.path("upstreams").get(0).path("problem").isNull()).isTrue();
    JsonNode duo = aliases.get("duo");
    assertThat(duo.path("ready").asBoolean()).isTrue();
    JsonNode first = duo.path("upstreams").get(0);
    JsonNode dead = duo.path("upstreams").get(1);
    assertThat(first.path("name").asText()).isEqualTo("duo#0");
    assertThat(first.path("ready").asBoolean()).isTrue();
    assertThat(first.path("breaker").asText()).isEqualTo("closed");
    assertThat(dead.path("name").asText()).isEqualTo("duo#1");
    assertThat(dead.path("ready").asBoolean()).isFalse();
    assertThat(dead.path("problem").asText()).contains("cannot connect to 127.0.0.1:1");
    assertThat(dead.path("breaker").asText()).isEqualTo("closed");
  }

  @Test
  void onlyTheAdminTokenReadsIt() throws Exception {
    String userKey = key("reader", 10);
    for (String token : new String[] {null, "", "wrong", userKey, "test-admin-token"}) {
      HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base + "/admin/v1/overview"));
      if (token != null) {
        r.header("Authorization", "Bearer " + token);
      }
      HttpResponse<String> answer = http.send(r.build(), HttpResponse.BodyHandlers.ofString());
      assertThat(answer.statusCode()).as("token %s", token).isEqualTo(401);
      assertThat(answer.body()).doesNotContain("minutes");
    }
    HttpResponse<String> inQuery =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(base + "/admin/v1/overview?token=" + GatewayTestSupport.ADMIN_TOKEN))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(inQuery.statusCode()).isEqualTo(401);
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /** An account with {@code credits} (none opened for 0: an empty account) and a user key. */
  private String key(String account, long credits) {
    ledger.openAccount(account);
    if (credits > 0) {
      ledger.grant(account, credits, "seed-" + account, "test", "seed");
    }
    return keys.create(ApiKey.Kind.USER, account, "test").secret();
  }

  private List<LedgerEntry> charges(String account) {
    return ledger.entries(account, null, 100).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  private HttpRequest request(String key, String body) {
    return HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
        .timeout(Duration.ofSeconds(20))
        .header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build();
  }

  private HttpResponse<String> call(String key, String body) throws Exception {
    return http.send(request(key, body), HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode overview() throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/admin/v1/overview"))
                .header("Authorization", "Bearer " + GatewayTestSupport.ADMIN_TOKEN)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private static JsonNode current(JsonNode overview) {
    JsonNode minutes = overview.path("minutes");
    return minutes.get(minutes.size() - 1);
  }
}

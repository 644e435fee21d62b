package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The admin API's spend series over a gateway on PostgreSQL in front of the simulator: after real
 * calls, every charge entry of the account is in the series, in the bucket of its time and the
 * group of its model or alias, and the series' credits are the sum of the account's charges. Bad
 * parameters are 422 naming the parameter; a ledger without the role serves no route.
 */
class SpendSeriesGatewayTest extends SimulatorGatewaySupport {

  private static final String CHAT =
      "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";

  @Test
  void theSeriesHoldsEveryChargeInItsBucketAndGroup() throws Exception {
    String account = account();
    String other = account();
    String key = userKey(account, 1_000_000);
    String otherKey = userKey(other, 1_000_000);
    for (String alias : List.of("pro", "pro", "wild")) {
      assertThat(post("/v1/chat/completions", key, CHAT.formatted(alias), Map.of()).statusCode())
          .isEqualTo(200);
    }
    assertThat(
            post("/v1/embeddings", key, "{\"model\":\"embed\",\"input\":\"hello\"}", Map.of())
                .statusCode())
        .isEqualTo(200);
    assertThat(post("/v1/chat/completions", otherKey, CHAT.formatted("pro"), Map.of()).statusCode())
        .isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(account).size() == 4);
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(other).size() == 1);
    List<LedgerEntry> mine = charges(account);
    List<LedgerEntry> all = new ArrayList<>(mine);
    all.addAll(charges(other));

    JsonNode hourly = spend("/spend?account_id=" + account);
    assertThat(hourly.path("object").asText()).isEqualTo("spend_series");
    assertThat(hourly.path("account_id").asText()).isEqualTo(account);
    assertThat(hourly.path("bucket").asText()).isEqualTo("hour");
    assertThat(hourly.path("group_by").asText()).isEqualTo("model");
    assertThat(
            Duration.between(
                Instant.parse(hourly.path("from").asText()),
                Instant.parse(hourly.path("to").asText())))
        .isEqualTo(Duration.ofHours(24));
    assertThat(points(hourly, "model")).isEqualTo(expected(mine, ChronoUnit.HOURS, e -> e.model()));
    long credits = 0;
    for (JsonNode point : hourly.path("data")) {
      credits += point.path("credits").asLong();
    }
    assertThat(credits).isEqualTo(mine.stream().mapToLong(e -> -e.amount()).sum()).isPositive();

    Instant first = mine.stream().map(LedgerEntry::createdAt).min(Instant::compareTo).orElseThrow();
    String minutes =
        "&bucket=minute&from="
            + first.truncatedTo(ChronoUnit.MINUTES)
            + "&to="
            + Instant.now().plusSeconds(1);
    JsonNode byAlias = spend("/accounts/" + account + "/spend?group_by=alias" + minutes);
    assertThat(byAlias.path("bucket").asText()).isEqualTo("minute");
    assertThat(points(byAlias, "alias"))
        .isEqualTo(expected(mine, ChronoUnit.MINUTES, SpendSeriesGatewayTest::alias));
    assertThat(points(byAlias, "alias").keySet())
        .extracting(k -> k.substring(k.indexOf(' ') + 1))
        .contains("pro", "wild", "embed");

    JsonNode everyone = spend("/spend?group_by=model");
    assertThat(everyone.path("account_id").isNull()).isTrue();
    assertThat(points(everyone, "model"))
        .isEqualTo(expected(all, ChronoUnit.HOURS, e -> e.model()));
  }

  @Test
  void badParametersAre422NamingTheParameter() throws Exception {
    String account = account();
    ledger.openAccount(account);
    Instant now = Instant.now();
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put("/spend?bucket=week", "bucket");
    cases.put("/spend?group_by=scene", "group_by");
    cases.put("/spend?from=yesterday", "from");
    cases.put("/spend?to=" + enc("2026-13-01T00:00:00Z"), "to");
    cases.put("/spend?from=" + now + "&to=" + now, "from");
    cases.put("/spend?from=" + now + "&to=" + now.minusSeconds(60), "from");
    cases.put("/spend?bucket=minute&from=" + now.minus(Duration.ofHours(25)), "from");
    cases.put("/spend?bucket=hour&from=" + now.minus(Duration.ofDays(91)), "from");
    cases.put("/spend?to=" + enc("+10000-01-01T00:00:00Z"), "to");
    cases.put("/spend?from=" + enc("1969-12-31T00:00:00Z"), "from");
    cases.put("/spend?account_id=" + enc("a b"), "account_id");
    cases.put("/spend?acount_id=" + account, "acount_id");
    cases.put("/spend?account_id=" + account + "&account_id=x", "account_id");
    cases.put("/accounts/" + account + "/spend?account_id=" + account, "account_id");
    cases.put("/accounts/" + enc("a b") + "/spend", "id");
    for (Map.Entry<String, String> c : cases.entrySet()) {
      HttpResponse<String> r = adminGet(c.getKey(), GatewayTestSupport.ADMIN_TOKEN);
      assertThat(r.statusCode()).as(c.getKey() + " " + r.body()).isEqualTo(422);
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertThat(error.path("code").asText()).as(c.getKey()).isEqualTo("validation_failed");
      assertThat(error.path("param").asText()).as(c.getKey()).isEqualTo(c.getValue());
      assertThat(error.path("message").asText()).as(c.getKey()).contains(c.getValue());
    }
    String nobody = "/accounts/nobody-" + account + "/spend";
    HttpResponse<String> missing = adminGet(nobody, GatewayTestSupport.ADMIN_TOKEN);
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(code(missing)).isEqualTo("account_not_found");

    // Only the admin token reads spending: not none, not a user's key.
    assertThat(adminGet(nobody, null).statusCode()).isEqualTo(401);
    assertThat(adminGet("/spend", null).statusCode()).isEqualTo(401);
    assertThat(adminGet("/spend", userKey(account(), 0)).statusCode()).isEqualTo(401);

    // An offset instant is the same instant; an empty parameter is an absent one.
    String withOffset = now.atOffset(ZoneOffset.ofHours(2)).toString();
    JsonNode shifted = spend("/spend?bucket=&account_id=&to=" + enc(withOffset));
    assertThat(shifted.path("to").asText()).isEqualTo(now.toString());
    assertThat(shifted.path("bucket").asText()).isEqualTo("hour");
    assertThat(shifted.path("account_id").isNull()).isTrue();
    // The default range starts no earlier than the earliest instant a series may.
    JsonNode early = spend("/spend?to=1970-01-01T06:00:00Z");
    assertThat(early.path("from").asText()).isEqualTo("1970-01-01T00:00:00Z");
  }

  static String code(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body()).path("error").path("code").asText();
  }

  @Test
  void rangesDefaultToTheGatewaysClockAndALedgerWithoutTheRoleServesNoRoute() throws Exception {
    Instant now = Instant.parse("2026-03-01T12:34:56.789Z");
    try (JdbcCreditLedger real =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + tmp.resolve("own-" + System.nanoTime() + ".db"))
            .spoolDirectory(tmp.resolve("own-spool-" + System.nanoTime()))
            .build()) {
      ApiKeyStore.migrate(real.dataSource());
      ApiKeyStore keys = new ApiKeyStore(real.dataSource(), Clock.systemUTC());
      ForwardingLedger.Required withoutSpend = ForwardingLedger.of(real);
      GatewayConfig config =
          GatewayConfig.fromProperties(
              Map.of(
                  "server.port",
                  "0",
                  "admin.token",
                  GatewayTestSupport.ADMIN_TOKEN,
                  "models.pro.base-url",
                  sim.baseUrl(),
                  "models.pro.model",
                  "sim-pro"),
              Map.of());
      try (Gateway gateway =
          Gateway.builder()
              .config(config)
              .ledger(real)
              .cache(InMemoryCreditCache.builder().build())
              .keys(keys)
              .clock(Clock.fixed(now, ZoneOffset.UTC))
              .build()
              .start()) {
        JsonNode series = JSON.readTree(send(gateway, "/admin/v1/spend?bucket=day").body());
        assertThat(series.path("to").asText()).isEqualTo(now.toString());
        assertThat(series.path("from").asText())
            .isEqualTo(now.minus(Duration.ofHours(24)).toString());
        assertThat(series.path("data")).isEmpty();
      }
      try (Gateway gateway =
          Gateway.builder()
              .config(config)
              .ledger(withoutSpend)
              .cache(InMemoryCreditCache.builder().build())
              .keys(keys)
              .adminTokens(new AdminTokenStore(real.dataSource(), Clock.systemUTC()))
              .build()
              .start()) {
        assertThat(gateway.routes()).noneMatch(route -> route.endsWith("/spend"));
        assertThat(send(gateway, "/admin/v1/spend").statusCode()).isEqualTo(404);
        JsonNode doc = JSON.readTree(send(gateway, "/admin/v1/openapi.json").body());
        assertThat(doc.path("paths").has("/spend")).isFalse();
        assertThat(doc.path("paths").has("/accounts/{id}/spend")).isFalse();
        assertThat(doc.path("paths").has("/accounts/{id}")).isTrue();
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private JsonNode spend(String path) throws Exception {
    HttpResponse<String> r = adminGet(path, GatewayTestSupport.ADMIN_TOKEN);
    assertThat(r.statusCode()).as(path + " " + r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private HttpResponse<String> adminGet(String path, String token) throws Exception {
    return fetch(base + "/admin/v1" + path, token);
  }

  private HttpResponse<String> send(Gateway gateway, String path) throws Exception {
    return fetch("http://127.0.0.1:" + gateway.port() + path, GatewayTestSupport.ADMIN_TOKEN);
  }

  /** A GET of {@code url} with {@code token} as the bearer token, or none when it is null. */
  private HttpResponse<String> fetch(String url, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String enc(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  private static String alias(LedgerEntry e) {
    try {
      return JSON.readTree(e.metadata()).path("alias").asText("");
    } catch (Exception ex) {
      throw new IllegalStateException(ex);
    }
  }

  /** The series' points, by "start group": credits, charges, input and output tokens. */
  private static Map<String, List<Long>> points(JsonNode series, String group) {
    Map<String, List<Long>> points = new TreeMap<>();
    for (JsonNode p : series.path("data")) {
      assertThat(p.path("refunded").asLong()).isZero();
      points.put(
          p.path("start").asText() + " " + p.path(group).asText(),
          List.of(
              p.path("credits").asLong(),
              p.path("charges").asLong(),
              p.path("input_tokens").asLong(),
              p.path("output_tokens").asLong()));
    }
    return points;
  }

  /** The same points computed from the charge entries themselves. */
  private static Map<String, List<Long>> expected(
      List<LedgerEntry> charges, ChronoUnit unit, Function<LedgerEntry, String> group) {
    Map<String, List<Long>> points = new TreeMap<>();
    for (LedgerEntry e : charges) {
      points.merge(
          e.createdAt().truncatedTo(unit) + " " + group.apply(e),
          List.of(-e.amount(), 1L, e.usage().inputTokens(), e.usage().outputTokens()),
          (a, b) ->
              List.of(
                  a.get(0) + b.get(0),
                  a.get(1) + b.get(1),
                  a.get(2) + b.get(2),
                  a.get(3) + b.get(3)));
    }
    return points;
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The admin API end to end over HTTP: accounts, grants, blocks, entries, keys and price rules. */
abstract class AbstractAdminApiTest extends GatewayTestSupport {

  @Test
  void operatorLifecycleOverHttp() throws Exception {
    String account = account();
    HttpResponse<String> created =
        admin(
            "POST",
            "/keys",
            "{\"kind\":\"user\",\"account_id\":\"" + account + "\",\"label\":\"ci\"}",
            Map.of());
    assertThat(created.statusCode()).isEqualTo(201);
    JsonNode key = JSON.readTree(created.body());
    String secret = key.path("key").asText();
    assertThat(secret).startsWith("cgk_");

    HttpResponse<String> listed = admin("GET", "/keys?account_id=" + account, null, Map.of());
    assertThat(listed.body()).doesNotContain(secret).contains(key.path("id").asText());

    assertThat(post(secret, HELLO, Map.of()).statusCode()).isEqualTo(402);

    String grant = "{\"amount\":100000,\"reason\":\"top-up\"}";
    HttpResponse<String> g1 =
        admin("POST", "/accounts/" + account + "/grants", grant, Map.of("Idempotency-Key", "g-1"));
    assertThat(g1.statusCode()).isEqualTo(201);
    HttpResponse<String> replay =
        admin("POST", "/accounts/" + account + "/grants", grant, Map.of("Idempotency-Key", "g-1"));
    assertThat(replay.statusCode()).isIn(200, 201);
    assertThat(balance(account)).isEqualTo(100_000);
    HttpResponse<String> conflict =
        admin(
            "POST",
            "/accounts/" + account + "/grants",
            "{\"amount\":5}",
            Map.of("Idempotency-Key", "g-1"));
    assertThat(conflict.statusCode()).isEqualTo(409);
    assertThat(code(conflict)).isEqualTo("idempotency_conflict");
    assertThat(balance(account)).isEqualTo(100_000);

    HttpResponse<String> shown = admin("GET", "/accounts/" + account, null, Map.of());
    assertThat(JSON.readTree(shown.body()).path("balance").asLong()).isEqualTo(100_000);
    assertThat(JSON.readTree(shown.body()).path("granted").asLong()).isEqualTo(100_000);

    assertThat(post(secret, HELLO, Map.of()).statusCode()).isEqualTo(200);

    assertThat(
            admin("POST", "/accounts/" + account + "/block", "{\"reason\":\"abuse\"}", Map.of())
                .statusCode())
        .isEqualTo(200);
    assertThat(post(secret, HELLO, Map.of()).statusCode()).isEqualTo(402);
    assertThat(admin("POST", "/accounts/" + account + "/unblock", "{}", Map.of()).statusCode())
        .isEqualTo(200);
    assertThat(post(secret, HELLO, Map.of()).statusCode()).isEqualTo(200);

    PriceRule pricier =
        new PriceRule(
            0, "", "testai", "test-model-pro", 6400, 32000, 1600, 32000, 1_000_000, 0, 10, true);
    HttpResponse<String> rule =
        admin(
            "POST",
            "/price-rules",
            "{\"provider\":\"testai\",\"model\":\"test-model-pro\","
                + "\"input_price\":6400,\"output_price\":32000,\"cached_price\":1600,\"reasoning_price\":32000,"
                + "\"credits_per_unit\":1000000,\"priority\":10}",
            Map.of());
    assertThat(rule.statusCode()).isEqualTo(201);
    long ruleId = JSON.readTree(rule.body()).path("id").asLong();
    HttpResponse<String> quote =
        admin(
            "GET",
            "/price-quote?rule_id=" + ruleId + "&input_tokens=1000&output_tokens=500",
            null,
            Map.of());
    assertThat(JSON.readTree(quote.body()).path("credits").asLong())
        .isEqualTo(
            Pricing.quote(pricier, new dev.creditgate.pricing.Usage(1000, 500, 0, 0)).credits())
        .isPositive();
    HttpResponse<String> overflow =
        admin(
            "GET",
            "/price-quote?rule_id=" + ruleId + "&input_tokens=" + Long.MAX_VALUE,
            null,
            Map.of());
    assertThat(overflow.statusCode()).isEqualTo(422);
    long before = balance(account);
    assertThat(post(secret, HELLO, Map.of()).statusCode()).isEqualTo(200);
    long newPrice = Pricing.quote(pricier, REPORTED).credits();
    assertThat(newPrice).isEqualTo(2 * expectedCredits);
    assertThat(balance(account)).isEqualTo(before - newPrice);
    assertThat(charges(account).get(0).priceRuleId()).isEqualTo(ruleId);

    HttpResponse<String> off = admin("DELETE", "/price-rules/" + ruleId, null, Map.of());
    assertThat(JSON.readTree(off.body()).path("active").asBoolean()).isFalse();
    HttpResponse<String> rules = admin("GET", "/price-rules", null, Map.of());
    assertThat(JSON.readTree(rules.body()).path("data").size()).isGreaterThanOrEqualTo(2);

    List<String> kinds = new ArrayList<>();
    String cursor = null;
    int pages = 0;
    do {
      HttpResponse<String> page =
          admin(
              "GET",
              "/accounts/"
                  + account
                  + "/entries?limit=2"
                  + (cursor == null
                      ? ""
                      : "&cursor="
                          + java.net.URLEncoder.encode(
                              cursor, java.nio.charset.StandardCharsets.UTF_8)),
              null,
              Map.of());
      assertThat(page.statusCode()).isEqualTo(200);
      JsonNode p = JSON.readTree(page.body());
      assertThat(p.path("data").size()).isLessThanOrEqualTo(2);
      p.path("data").forEach(e -> kinds.add(e.path("kind").asText()));
      cursor = p.path("next_cursor").isNull() ? null : p.path("next_cursor").asText();
      pages++;
    } while (cursor != null && pages < 20);
    List<LedgerEntry> all = ledger.entries(account, null, 100).items();
    assertThat(kinds).hasSize(all.size());
    assertThat(pages).isGreaterThan(1);
    assertThat(kinds).contains("grant", "charge", "block", "unblock");

    HttpResponse<String> revoked =
        admin("DELETE", "/keys/" + key.path("id").asText(), null, Map.of());
    assertThat(JSON.readTree(revoked.body()).path("revoked_at").isNull()).isFalse();
    assertThat(post(secret, HELLO, Map.of()).statusCode()).isEqualTo(401);
  }

  @Test
  void adminApiNeedsTheAdminToken() throws Exception {
    HttpResponse<String> none =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/admin/v1/accounts"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(none.statusCode()).isEqualTo(401);
    String userKey = userKey(account(), 10);
    HttpResponse<String> user =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/admin/v1/accounts"))
                .header("Authorization", "Bearer " + userKey)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(user.statusCode()).isEqualTo(401);
    HttpResponse<String> list = admin("GET", "/accounts?limit=10", null, Map.of());
    assertThat(list.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(list.body()).path("data").size()).isGreaterThanOrEqualTo(1);
  }

  @Test
  void serverRefusesToStartWithoutAnAdminTokenOutsideDemoMode() {
    GatewayConfig noToken =
        GatewayConfig.fromProperties(
            Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("x.db")), Map.of());
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> GatewayServer.start(noToken, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("admin.token");
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.PriceRule;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Named admin tokens over HTTP against a started gateway: created and revoked through the admin
 * API, a viewer reads but changes nothing, an operator's changes record its name as their actor,
 * and nothing but a valid admin token gets in.
 */
abstract class AbstractAdminTokensApiTest extends GatewayTestSupport {

  /** The ledger part of the config. */
  abstract Map<String, String> ledgerBackend(Path tmp) throws Exception;

  @Override
  final Map<String, String> backend(Path tmp) throws Exception {
    Map<String, String> props = new HashMap<>(ledgerBackend(tmp));
    // The throttling test sends its guesses under an address of its own, so that the other tests'
    // named tokens (counted under the socket's peer) are not throttled by them.
    props.put("limits.client-address-header", "X-Forwarded-For");
    return props;
  }

  @Test
  void aCreatedTokenIsShownOnceAndStoredHashed() throws Exception {
    String name = name("ops");
    JsonNode created = create(ADMIN_TOKEN, name, "operator");
    String secret = created.path("token").asText();
    String id = created.path("id").asText();
    assertThat(secret).startsWith("cga_").hasSize(47);
    assertThat(id).matches("atk_[0-9a-f]{16}");
    assertThat(created.path("object").asText()).isEqualTo("admin_token");
    assertThat(created.path("name").asText()).isEqualTo(name);
    assertThat(created.path("role").asText()).isEqualTo("operator");
    assertThat(created.path("prefix").asText()).isEqualTo(secret.substring(0, 10));
    assertThat(created.path("created_at").asText()).isNotEmpty();
    assertThat(created.path("revoked_at").isNull()).isTrue();

    HttpResponse<String> listed = admin("GET", "/admin-tokens", null, Map.of());
    assertThat(listed.statusCode()).isEqualTo(200);
    assertThat(listed.body()).contains(id).doesNotContain(secret.substring(10));
    for (JsonNode t : JSON.readTree(listed.body()).path("data")) {
      assertThat(t.has("token")).isFalse();
    }

    try (Connection c = ledger.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT * FROM gateway_admin_tokens WHERE id = ?")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).isTrue();
        for (int col = 1; col <= rs.getMetaData().getColumnCount(); col++) {
          assertThat(String.valueOf(rs.getObject(col))).doesNotContain(secret.substring(10));
        }
        assertThat(rs.getString("token_hash").trim()).isEqualTo(sha256(secret));
      }
    }
    assertThat(adminAs(secret, "GET", "/accounts?limit=1", null, Map.of()).statusCode())
        .isEqualTo(200);
  }

  @Test
  void aViewerReadsButEveryChangeIsRefusedAndChangesNothing() throws Exception {
    String account = account();
    String userKey = userKey(account, 1_000);
    String keyId = server.keys().list(account).get(0).id();
    long ruleId = ledger.priceRules().get(0).id();
    JsonNode operator = create(ADMIN_TOKEN, name("ops"), "operator");
    JsonNode viewer = create(ADMIN_TOKEN, name("viewer"), "viewer");
    String v = viewer.path("token").asText();

    String a = "/accounts/" + account;
    for (String read :
        List.of(
            "/accounts",
            a,
            a + "/entries",
            a + "/holds",
            a + "/credit-policy",
            "/keys",
            "/price-rules",
            "/admin-tokens")) {
      assertThat(adminAs(v, "GET", read, null, Map.of()).statusCode()).as(read).isEqualTo(200);
    }

    List<LedgerEntry> entriesBefore = ledger.entries(account, null, 100).items();
    List<PriceRule> rulesBefore = ledger.priceRules();
    int tokensBefore = tokens().size();
    int keysBefore = server.keys().list(null).size();
    String newAccount = account();
    String rule = "{\"input_price\":1,\"output_price\":1,\"credits_per_unit\":1,\"priority\":99}";
    String op = operator.path("id").asText();
    List<String[]> changes =
        List.of(
            new String[] {"POST", "/accounts", "{\"id\":\"" + newAccount + "\"}"},
            new String[] {"POST", a + "/grants", "{\"amount\":5}"},
            new String[] {"POST", a + "/grants", "{\"amount\":5,\"actor\":\"admin\"}"},
            new String[] {"POST", a + "/block", "{}"},
            new String[] {"POST", a + "/unblock", "{}"},
            new String[] {"PUT", a + "/credit-policy", "{\"mode\":\"check\"}"},
            new String[] {"DELETE", a + "/credit-policy", null},
            new String[] {"DELETE", a + "/holds/some-call", null},
            new String[] {
              "POST", "/keys", "{\"kind\":\"user\",\"account_id\":\"" + account + "\"}"
            },
            new String[] {"POST", "/keys", "{\"kind\":\"service\"}"},
            new String[] {"DELETE", "/keys/" + keyId, null},
            new String[] {"POST", "/keys/" + keyId + "/revoke", null},
            new String[] {"POST", "/price-rules", rule},
            new String[] {"PUT", "/price-rules/" + ruleId, rule},
            new String[] {"DELETE", "/price-rules/" + ruleId, null},
            new String[] {"POST", "/admin-tokens", "{\"name\":\"x-viewer\",\"role\":\"viewer\"}"},
            new String[] {"POST", "/admin-tokens", "{\"name\":\"x-op\",\"role\":\"operator\"}"},
            new String[] {"DELETE", "/admin-tokens/" + op, null},
            new String[] {"POST", "/admin-tokens/" + op + "/revoke", null},
            new String[] {"POST", "/admin-tokens/" + viewer.path("id").asText() + "/revoke", null});
    for (String[] change : changes) {
      HttpResponse<String> refused =
          adminAs(v, change[0], change[1], change[2], Map.of("Idempotency-Key", "v-" + uuid()));
      String what = change[0] + " " + change[1];
      assertThat(refused.statusCode()).as(what).isEqualTo(403);
      JsonNode error = JSON.readTree(refused.body()).path("error");
      assertThat(error.path("code").asText()).as(what).isEqualTo("insufficient_role");
      assertThat(error.path("type").asText()).as(what).isEqualTo("permission_error");
    }

    assertThat(balance(account)).isEqualTo(1_000);
    assertThat(ledger.account(account).orElseThrow().blocked()).isFalse();
    assertThat(ledger.entries(account, null, 100).items()).isEqualTo(entriesBefore);
    assertThat(ledger.account(newAccount)).isEmpty();
    assertThat(ledger.policy(account)).isEmpty();
    assertThat(ledger.priceRules()).isEqualTo(rulesBefore);
    assertThat(server.keys().list(null).stream().filter(k -> !k.revoked()))
        .anyMatch(k -> k.id().equals(keyId));
    assertThat(server.keys().list(account)).hasSize(1);
    assertThat(server.keys().list(null)).hasSize(keysBefore);
    assertThat(tokens()).hasSize(tokensBefore);
    assertThat(tokens().stream().filter(t -> t.path("revoked_at").isNull()))
        .extracting(t -> t.path("id").asText())
        .contains(op, viewer.path("id").asText());
    assertThat(
            adminAs(operator.path("token").asText(), "GET", "/keys", null, Map.of()).statusCode())
        .isEqualTo(200);
    assertThat(post(userKey, HELLO, Map.of()).statusCode()).isNotEqualTo(401);
    assertThat(adminAs(v, "GET", "/accounts?limit=1", null, Map.of()).statusCode()).isEqualTo(200);
  }

  @Test
  void anOperatorsChangesRecordItsNameAsTheirActor() throws Exception {
    String account = account();
    ledger.openAccount(account);
    String name = name("alice");
    String ops = create(ADMIN_TOKEN, name, "operator").path("token").asText();
    String grants = "/accounts/" + account + "/grants";

    HttpResponse<String> granted =
        adminAs(ops, "POST", grants, "{\"amount\":100}", Map.of("Idempotency-Key", "g-1"));
    assertThat(granted.statusCode()).isEqualTo(201);
    assertThat(JSON.readTree(granted.body()).path("actor").asText()).isEqualTo(name);

    for (String spoof : List.of("admin", "mallory", "", name + " ")) {
      String body = "{\"amount\":7,\"actor\":" + JSON.writeValueAsString(spoof) + "}";
      HttpResponse<String> refused =
          adminAs(ops, "POST", grants, body, Map.of("Idempotency-Key", "s-" + uuid()));
      if (spoof.trim().equals(name)) {
        // Strings in bodies are trimmed: this one names the caller.
        assertThat(refused.statusCode()).isEqualTo(201);
        continue;
      }
      assertThat(refused.statusCode()).as(spoof).isEqualTo(422);
      assertThat(JSON.readTree(refused.body()).path("error").path("param").asText())
          .isEqualTo("actor");
    }
    assertThat(balance(account)).isEqualTo(107);
    HttpResponse<String> own =
        adminAs(
            ops,
            "POST",
            grants,
            "{\"amount\":3,\"actor\":\"" + name + "\"}",
            Map.of("Idempotency-Key", "g-2"));
    assertThat(own.statusCode()).isEqualTo(201);
    assertThat(
            adminAs(
                    ops,
                    "POST",
                    "/accounts/" + account + "/block",
                    "{\"actor\":\"admin\"}",
                    Map.of())
                .statusCode())
        .isEqualTo(422);
    assertThat(ledger.account(account).orElseThrow().blocked()).isFalse();
    assertThat(adminAs(ops, "POST", "/accounts/" + account + "/block", null, Map.of()).statusCode())
        .isEqualTo(200);
    assertThat(
            adminAs(ops, "POST", "/accounts/" + account + "/unblock", "{}", Map.of()).statusCode())
        .isEqualTo(200);
    assertThat(
            adminAs(
                    ops,
                    "PUT",
                    "/accounts/" + account + "/credit-policy",
                    "{\"mode\":\"check\",\"actor\":\"admin\"}",
                    Map.of())
                .statusCode())
        .isEqualTo(422);
    assertThat(ledger.policy(account)).isEmpty();
    assertThat(
            admin("POST", grants, "{\"amount\":1}", Map.of("Idempotency-Key", "g-3")).statusCode())
        .isEqualTo(201);

    HttpResponse<String> listed =
        adminAs(ops, "GET", "/accounts/" + account + "/entries?limit=50", null, Map.of());
    List<String> actors = new ArrayList<>();
    for (JsonNode e : JSON.readTree(listed.body()).path("data")) {
      actors.add(e.path("kind").asText() + ":" + e.path("actor").asText());
    }
    // Newest first.
    assertThat(actors)
        .containsExactly(
            "grant:admin",
            "unblock:" + name,
            "block:" + name,
            "grant:" + name,
            "grant:" + name,
            "grant:" + name);

    JsonNode made = create(ops, name("bob"), "viewer");
    assertThat(made.path("role").asText()).isEqualTo("viewer");
    assertThat(create(ops, name("carol"), "operator").path("role").asText()).isEqualTo("operator");
  }

  @Test
  void aRevokedTokenIsRefusedAtOnce() throws Exception {
    String ops = create(ADMIN_TOKEN, name("ops"), "operator").path("token").asText();
    String name = name("viewer");
    JsonNode viewer = create(ops, name, "viewer");
    String v = viewer.path("token").asText();
    assertThat(adminAs(v, "GET", "/accounts?limit=1", null, Map.of()).statusCode()).isEqualTo(200);

    HttpResponse<String> duplicate =
        adminAs(
            ops,
            "POST",
            "/admin-tokens",
            "{\"name\":\"" + name + "\",\"role\":\"viewer\"}",
            Map.of());
    assertThat(duplicate.statusCode()).isEqualTo(409);
    assertThat(code(duplicate)).isEqualTo("admin_token_name_taken");
    assertThat(JSON.readTree(duplicate.body()).path("error").path("param").asText())
        .isEqualTo("name");

    HttpResponse<String> revoked =
        adminAs(
            ops, "POST", "/admin-tokens/" + viewer.path("id").asText() + "/revoke", null, Map.of());
    assertThat(revoked.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(revoked.body()).path("revoked_at").isNull()).isFalse();
    assertThat(revoked.body()).doesNotContain(v);
    HttpResponse<String> refused = adminAs(v, "GET", "/accounts?limit=1", null, Map.of());
    assertThat(refused.statusCode()).isEqualTo(401);
    assertThat(code(refused)).isEqualTo("invalid_admin_token");

    // The name is free again once its token is revoked.
    JsonNode again = create(ops, name, "viewer");
    String second = again.path("token").asText();
    assertThat(
            adminAs(ops, "DELETE", "/admin-tokens/" + again.path("id").asText(), null, Map.of())
                .statusCode())
        .isEqualTo(200);
    assertThat(adminAs(second, "GET", "/accounts", null, Map.of()).statusCode()).isEqualTo(401);

    // Revoked elsewhere (the CLI, another gateway): refused on the next request too.
    JsonNode third = create(ops, name("viewer"), "viewer");
    String t = third.path("token").asText();
    assertThat(adminAs(t, "GET", "/accounts", null, Map.of()).statusCode()).isEqualTo(200);
    new AdminTokenStore(ledger.dataSource(), Clock.systemUTC()).revoke(third.path("id").asText());
    assertThat(adminAs(t, "GET", "/accounts", null, Map.of()).statusCode()).isEqualTo(401);

    HttpResponse<String> unknown =
        adminAs(ops, "DELETE", "/admin-tokens/atk_0000000000000000", null, Map.of());
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(code(unknown)).isEqualTo("admin_token_not_found");
  }

  @Test
  void onlyAValidAdminTokenGetsIn() throws Exception {
    String account = account();
    String userKey = userKey(account, 1_000);
    String serviceKey = server.keys().create(ApiKey.Kind.SERVICE, "", "svc").secret();
    String ops = create(ADMIN_TOKEN, name("ops"), "operator").path("token").asText();
    byte[] random = new byte[32];
    new java.security.SecureRandom().nextBytes(random);
    String guess = "cga_" + Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    String lastChanged = ops.substring(0, ops.length() - 1) + (ops.endsWith("A") ? "B" : "A");
    for (String bad :
        List.of(
            guess,
            userKey,
            serviceKey,
            ADMIN_TOKEN + "x",
            ADMIN_TOKEN.substring(1),
            ops.substring(0, 10),
            lastChanged,
            "cga_",
            ops + "x")) {
      HttpResponse<String> r =
          adminAs(
              bad,
              "POST",
              "/accounts/" + account + "/grants",
              "{\"amount\":5}",
              Map.of("Idempotency-Key", "bad-" + uuid()));
      assertThat(r.statusCode()).as(bad).isEqualTo(401);
      assertThat(code(r)).as(bad).isEqualTo("invalid_admin_token");
    }
    HttpResponse<String> none =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/admin/v1/accounts"))
                .header("Authorization", "Basic " + ops)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(code(none)).isEqualTo("missing_admin_token");
    assertThat(balance(account)).isEqualTo(1_000);
    // An admin token is no API key either.
    assertThat(post(ops, HELLO, Map.of()).statusCode()).isEqualTo(401);
  }

  @Test
  void badTokenRequestsAreRefusedByNameAndCreateNothing() throws Exception {
    int before = tokens().size();
    String[][] bad = {
      {"{\"role\":\"viewer\"}", "name"},
      {"{\"name\":\"\",\"role\":\"viewer\"}", "name"},
      {"{\"name\":\"Alice\",\"role\":\"viewer\"}", "name"},
      {"{\"name\":\"a b\",\"role\":\"viewer\"}", "name"},
      {"{\"name\":\"-lead\",\"role\":\"viewer\"}", "name"},
      {"{\"name\":\"" + "a".repeat(65) + "\",\"role\":\"viewer\"}", "name"},
      {"{\"name\":\"admin\",\"role\":\"operator\"}", "name"},
      {"{\"name\":\"cli\",\"role\":\"operator\"}", "name"},
      {"{\"name\":7,\"role\":\"viewer\"}", "name"},
      {"{\"name\":\"fine\"}", "role"},
      {"{\"name\":\"fine\",\"role\":\"root\"}", "role"},
      {"{\"name\":\"fine\",\"role\":\"\"}", "role"},
    };
    for (String[] b : bad) {
      HttpResponse<String> r = admin("POST", "/admin-tokens", b[0], Map.of());
      assertThat(r.statusCode()).as(b[0]).isEqualTo(422);
      assertThat(JSON.readTree(r.body()).path("error").path("param").asText())
          .as(b[0])
          .isEqualTo(b[1]);
    }
    assertThat(admin("POST", "/admin-tokens", "{\"name\":", Map.of()).statusCode()).isEqualTo(400);
    assertThat(tokens()).hasSize(before);
    assertThat(create(ADMIN_TOKEN, "a".repeat(64), "VIEWER").path("role").asText())
        .isEqualTo("viewer");
  }

  @Test
  void guessingNamedTokensIsThrottledPerAddress() throws Exception {
    String viewer = create(ADMIN_TOKEN, name("viewer"), "viewer").path("token").asText();
    Map<String, String> guesser = Map.of("X-Forwarded-For", "203.0.113.9");
    int refused = 0;
    HttpResponse<String> r;
    do {
      r = adminAs("cga_guess" + uuid(), "GET", "/accounts", null, guesser);
      refused++;
    } while (r.statusCode() == 401 && refused < 40);
    assertThat(refused - 1).isGreaterThanOrEqualTo(GatewayLimits.DEFAULT_AUTH_FAILURES_PER_ADDRESS);
    assertThat(r.statusCode()).isEqualTo(429);
    assertThat(code(r)).isEqualTo("too_many_authentication_failures");
    assertThat(r.headers().firstValue("Retry-After")).isPresent();
    // The address's named tokens wait too, but the bootstrap token needs no read.
    assertThat(adminAs(viewer, "GET", "/accounts", null, guesser).statusCode()).isEqualTo(429);
    assertThat(admin("GET", "/accounts", null, guesser).statusCode()).isEqualTo(200);
    assertThat(
            adminAs(viewer, "GET", "/accounts", null, Map.of("X-Forwarded-For", "203.0.113.10"))
                .statusCode())
        .isEqualTo(200);
  }

  private JsonNode create(String asToken, String name, String role) throws Exception {
    HttpResponse<String> r =
        adminAs(
            asToken,
            "POST",
            "/admin-tokens",
            "{\"name\":\"" + name + "\",\"role\":\"" + role + "\"}",
            Map.of());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return JSON.readTree(r.body());
  }

  private List<JsonNode> tokens() throws Exception {
    List<JsonNode> all = new ArrayList<>();
    JSON.readTree(admin("GET", "/admin-tokens", null, Map.of()).body())
        .path("data")
        .forEach(all::add);
    return all;
  }

  private static String name(String kind) {
    return kind + "-" + uuid();
  }

  private static String uuid() {
    return UUID.randomUUID().toString().substring(0, 8);
  }

  private static String sha256(String s) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.ledger.Account;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A table of malformed requests, each with its expected status and error code, sent to a running
 * gateway; afterwards the ledger, the keys and the upstream show that none of them changed
 * anything.
 */
class MalformedRequestTest extends GatewayTestSupport {

  private static final String OK_MSGS = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "server.max-body-bytes",
        "65536");
  }

  record Case(
      String name,
      String method,
      String path,
      String auth,
      Map<String, String> headers,
      String body,
      int status,
      String code) {}

  @Test
  void everyMalformedRequestGetsItsErrorAndChangesNothing() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    String service = server.keys().create(ApiKey.Kind.SERVICE, "", "svc").secret();
    String admin = "Bearer " + ADMIN_TOKEN;
    String user = "Bearer " + key;
    String chat = "/v1/chat/completions";
    String grants = "/admin/v1/accounts/" + account + "/grants";
    String fresh = account();
    Map<String, String> none = Map.of();
    Map<String, String> idem = Map.of("Idempotency-Key", "bad-input-1");
    String deep = "[".repeat(5000) + "]".repeat(5000);
    String huge = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(70_000) + "\"}]}";

    List<Case> cases =
        List.of(
            new Case(
                "truncated JSON", "POST", chat, user, none, "{\"model\":", 400, "invalid_request"),
            new Case("body is an array", "POST", chat, user, none, "[]", 400, "invalid_request"),
            new Case("empty body", "POST", chat, user, none, "", 400, "invalid_request"),
            new Case(
                "trailing garbage",
                "POST",
                chat,
                user,
                none,
                "{" + OK_MSGS + "} x",
                400,
                "invalid_request"),
            new Case(
                "nesting too deep",
                "POST",
                chat,
                user,
                none,
                "{\"messages\":" + deep + "}",
                400,
                "invalid_request"),
            new Case(
                "messages missing",
                "POST",
                chat,
                user,
                none,
                "{\"model\":\"pro\"}",
                400,
                "invalid_request"),
            new Case(
                "messages not an array",
                "POST",
                chat,
                user,
                none,
                "{\"messages\":\"hi\"}",
                400,
                "invalid_request"),
            new Case(
                "messages empty",
                "POST",
                chat,
                user,
                none,
                "{\"messages\":[]}",
                400,
                "invalid_request"),
            new Case(
                "message not an object",
                "POST",
                chat,
                user,
                none,
                "{\"messages\":[\"hi\"]}",
                400,
                "invalid_request"),
            new Case(
                "role not a string",
                "POST",
                chat,
                user,
                none,
                "{\"messages\":[{\"role\":1,\"content\":\"x\"}]}",
                400,
                "invalid_request"),
            new Case(
                "content a number",
                "POST",
                chat,
                user,
                none,
                "{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
                400,
                "invalid_request"),
            new Case(
                "model a number",
                "POST",
                chat,
                user,
                none,
                "{\"model\":5," + OK_MSGS + "}",
                400,
                "invalid_request"),
            new Case(
                "stream a string",
                "POST",
                chat,
                user,
                none,
                "{\"stream\":\"yes\"," + OK_MSGS + "}",
                400,
                "invalid_request"),
            new Case(
                "max_tokens negative",
                "POST",
                chat,
                user,
                none,
                "{\"max_tokens\":-1," + OK_MSGS + "}",
                400,
                "invalid_request"),
            new Case(
                "max_tokens a string",
                "POST",
                chat,
                user,
                none,
                "{\"max_tokens\":\"ten\"," + OK_MSGS + "}",
                400,
                "invalid_request"),
            new Case(
                "temperature a string",
                "POST",
                chat,
                user,
                none,
                "{\"temperature\":\"hot\"," + OK_MSGS + "}",
                400,
                "invalid_request"),
            new Case(
                "body over the limit", "POST", chat, user, none, huge, 413, "request_too_large"),
            new Case(
                "unknown alias",
                "POST",
                chat,
                user,
                none,
                "{\"model\":\"gpt-99\"," + OK_MSGS + "}",
                404,
                "model_not_found"),
            new Case(
                "no Authorization",
                "POST",
                chat,
                null,
                none,
                "{" + OK_MSGS + "}",
                401,
                "missing_api_key"),
            new Case(
                "Basic auth",
                "POST",
                chat,
                "Basic dXNlcjpwYXNz",
                none,
                "{" + OK_MSGS + "}",
                401,
                "invalid_api_key"),
            new Case(
                "unknown key",
                "POST",
                chat,
                "Bearer cgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                none,
                "{" + OK_MSGS + "}",
                401,
                "invalid_api_key"),
            new Case(
                "user key names an account",
                "POST",
                chat,
                user,
                Map.of("X-Creditgate-Account", fresh),
                "{" + OK_MSGS + "}",
                403,
                "forbidden_header"),
            new Case(
                "bad Idempotency-Key",
                "POST",
                chat,
                user,
                Map.of("Idempotency-Key", "x".repeat(300)),
                "{" + OK_MSGS + "}",
                400,
                "invalid_idempotency_key"),
            new Case(
                "service key without account",
                "POST",
                chat,
                "Bearer " + service,
                none,
                "{" + OK_MSGS + "}",
                400,
                "missing_account"),
            new Case(
                "service key with bad account",
                "POST",
                chat,
                "Bearer " + service,
                Map.of("X-Creditgate-Account", "no/such account"),
                "{" + OK_MSGS + "}",
                400,
                "invalid_account"),
            new Case(
                "skip-charge not a boolean",
                "POST",
                chat,
                "Bearer " + service,
                Map.of("X-Creditgate-Account", account, "X-Creditgate-Skip-Charge", "maybe"),
                "{" + OK_MSGS + "}",
                400,
                "invalid_header"),
            new Case(
                "grant negative",
                "POST",
                grants,
                admin,
                idem,
                "{\"amount\":-5}",
                422,
                "validation_failed"),
            new Case(
                "grant zero",
                "POST",
                grants,
                admin,
                idem,
                "{\"amount\":0}",
                422,
                "validation_failed"),
            new Case(
                "grant overflows a long",
                "POST",
                grants,
                admin,
                idem,
                "{\"amount\":99999999999999999999999}",
                422,
                "validation_failed"),
            new Case(
                "grant above the maximum",
                "POST",
                grants,
                admin,
                idem,
                "{\"amount\":9000000000000000000}",
                422,
                "validation_failed"),
            new Case(
                "grant amount a string",
                "POST",
                grants,
                admin,
                idem,
                "{\"amount\":\"100\"}",
                422,
                "validation_failed"),
            new Case(
                "grant amount fractional",
                "POST",
                grants,
                admin,
                idem,
                "{\"amount\":1.5}",
                422,
                "validation_failed"),
            new Case(
                "grant without Idempotency-Key",
                "POST",
                grants,
                admin,
                none,
                "{\"amount\":5}",
                400,
                "missing_idempotency_key"),
            new Case(
                "grant bad JSON",
                "POST",
                grants,
                admin,
                idem,
                "{amount:5}",
                400,
                "invalid_request"),
            new Case(
                "grant to a bad account id",
                "POST",
                "/admin/v1/accounts/bad%20id/grants",
                admin,
                idem,
                "{\"amount\":5}",
                422,
                "validation_failed"),
            new Case(
                "grant to a new account, negative",
                "POST",
                "/admin/v1/accounts/" + fresh + "/grants",
                admin,
                idem,
                "{\"amount\":-1}",
                422,
                "validation_failed"),
            new Case(
                "wrong admin token",
                "POST",
                grants,
                "Bearer wrong-token-wrong-token",
                idem,
                "{\"amount\":5}",
                401,
                "invalid_admin_token"),
            new Case(
                "user key on the admin API",
                "POST",
                grants,
                user,
                idem,
                "{\"amount\":5}",
                401,
                "invalid_admin_token"),
            new Case(
                "key kind unknown",
                "POST",
                "/admin/v1/keys",
                admin,
                none,
                "{\"kind\":\"root\"}",
                422,
                "validation_failed"),
            new Case(
                "user key without account",
                "POST",
                "/admin/v1/keys",
                admin,
                none,
                "{\"kind\":\"user\"}",
                422,
                "validation_failed"),
            new Case(
                "price rule negative price",
                "POST",
                "/admin/v1/price-rules",
                admin,
                none,
                "{\"input_price\":-1,\"output_price\":1,\"credits_per_unit\":1}",
                422,
                "validation_failed"),
            new Case(
                "price rule without credits_per_unit",
                "POST",
                "/admin/v1/price-rules",
                admin,
                none,
                "{\"input_price\":1,\"output_price\":1}",
                422,
                "validation_failed"),
            new Case(
                "price rule priority overflows",
                "POST",
                "/admin/v1/price-rules",
                admin,
                none,
                "{\"input_price\":1,\"output_price\":1,\"credits_per_unit\":1,\"priority\":99999999999}",
                422,
                "validation_failed"),
            new Case(
                "entries limit zero",
                "GET",
                "/admin/v1/accounts/" + account + "/entries?limit=0",
                admin,
                none,
                null,
                422,
                "validation_failed"));
    assertThat(cases).hasSizeGreaterThanOrEqualTo(20);

    Account before = ledger.account(account).orElseThrow();
    int entriesBefore = ledger.entries(account, null, 1000).items().size();
    int rulesBefore = ledger.priceRules().size();
    int keysBefore = server.keys().list(null).size();

    List<String> failures = new ArrayList<>();
    Map<String, Integer> seen = new LinkedHashMap<>();
    for (Case c : cases) {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create(base + c.path()))
              .timeout(Duration.ofSeconds(20))
              .method(
                  c.method(),
                  c.body() == null
                      ? HttpRequest.BodyPublishers.noBody()
                      : HttpRequest.BodyPublishers.ofString(c.body()));
      if (c.auth() != null) {
        b.header("Authorization", c.auth());
      }
      if (c.body() != null) {
        b.header("Content-Type", "application/json");
      }
      c.headers().forEach(b::header);
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      String code = r.body().isEmpty() ? "" : code(r);
      seen.put(c.name(), r.statusCode());
      if (r.statusCode() != c.status() || !code.equals(c.code())) {
        failures.add(
            c.name()
                + ": expected "
                + c.status()
                + " "
                + c.code()
                + " but got "
                + r.statusCode()
                + " "
                + r.body());
      }
      assertThat(r.body())
          .doesNotContain("Exception")
          .doesNotContain("\tat ")
          .doesNotContain("sk-upstream-secret");
    }
    assertThat(failures).isEmpty();

    assertThat(upstream.requests).isEmpty();
    Account after = ledger.account(account).orElseThrow();
    assertThat(after.balance()).isEqualTo(before.balance());
    assertThat(after.version()).isEqualTo(before.version());
    assertThat(ledger.entries(account, null, 1000).items()).hasSize(entriesBefore);
    assertThat(ledger.account(fresh)).isEmpty();
    assertThat(ledger.priceRules()).hasSize(rulesBefore);
    assertThat(server.keys().list(null)).hasSize(keysBefore);
  }

  /**
   * An oversized body gets its 413 every time, and the next request on the same client works. The
   * gateway used to answer before reading the body and close the socket with the upload unread; the
   * kernel then reset the connection and about 1 in 75 clients saw no answer at all ("header parser
   * received no bytes"; 4 of 300 in a loop like this one, 0 of 1,000 after the fix).
   */
  @Test
  void oversizedBodiesAlwaysGetTheir413() throws Exception {
    String key = userKey(account(), 100_000);
    String huge = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(70_000) + "\"}]}";
    Map<Integer, Integer> statuses = new java.util.TreeMap<>();
    for (int i = 0; i < 300; i++) {
      for (String body : new String[] {huge, "{\"model\":"}) {
        HttpRequest request =
            HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        statuses.merge(
            http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode(), 1, Integer::sum);
      }
    }
    assertThat(statuses).containsExactlyInAnyOrderEntriesOf(Map.of(400, 300, 413, 300));
  }
}

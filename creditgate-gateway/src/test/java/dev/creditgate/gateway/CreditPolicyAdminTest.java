package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * An account's own credit settings through the admin API: set, read, shown on the account, honoured
 * by the next call, cleared; bad values refused by name and changing nothing.
 */
class CreditPolicyAdminTest extends GatewayTestSupport {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }

  HttpResponse<String> policy(String method, String account, String body) throws Exception {
    return admin(method, "/accounts/" + account + "/credit-policy", body, Map.of());
  }

  @Test
  void anAccountsOwnCheckModeAdmitsWhatStrictRefusesUntilCleared() throws Exception {
    String account = account();
    // Enough for the call's usage, not for its worst case (1,000 output tokens held).
    String key = userKey(account, expectedCredits);
    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(402);

    HttpResponse<String> set = policy("PUT", account, "{\"mode\":\"check\",\"actor\":\"admin\"}");
    assertThat(set.statusCode()).as(set.body()).isEqualTo(200);
    JsonNode body = JSON.readTree(set.body());
    assertThat(body.path("object").asText()).isEqualTo("credit_policy");
    assertThat(body.path("mode").asText()).isEqualTo("check");
    assertThat(body.path("shortfall").isNull()).isTrue();
    assertThat(body.path("effective").path("mode").asText()).isEqualTo("check");
    assertThat(body.path("effective").path("shortfall").asText()).isEqualTo("reject");
    assertThat(body.path("effective").path("overdraft").asLong()).isZero();
    JsonNode shown =
        JSON.readTree(admin("GET", "/accounts/" + account, null, Map.of()).body())
            .path("credit_policy");
    assertThat(shown.path("mode").asText()).isEqualTo("check");

    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(200);

    HttpResponse<String> cleared = policy("DELETE", account, null);
    assertThat(cleared.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(cleared.body()).path("mode").isNull()).isTrue();
    assertThat(
            JSON.readTree(policy("GET", account, null).body())
                .path("effective")
                .path("mode")
                .asText())
        .isEqualTo("strict");
  }

  @Test
  void badValuesAreRefusedByNameAndChangeNothing() throws Exception {
    String account = account();
    userKey(account, 100);
    assertThat(policy("PUT", account, "{\"overdraft\":500}").statusCode()).isEqualTo(200);
    for (String[] bad :
        new String[][] {
          {"{\"mode\":\"loose\"}", "mode"},
          {"{\"shortfall\":7}", "shortfall"},
          {"{\"overdraft\":-1}", "overdraft"},
          {"{\"overdraft\":\"lots\"}", "overdraft"},
          {"{\"overdrafts\":5}", "overdrafts"}
        }) {
      HttpResponse<String> r = policy("PUT", account, bad[0]);
      assertThat(r.statusCode()).as(bad[0]).isEqualTo(422);
      assertThat(JSON.readTree(r.body()).path("error").path("param").asText())
          .as(bad[0])
          .isEqualTo(bad[1]);
    }
    assertThat(JSON.readTree(policy("GET", account, null).body()).path("overdraft").asLong())
        .isEqualTo(500);
    assertThat(policy("GET", "acct-nobody-" + account, null).statusCode()).isEqualTo(404);
    assertThat(policy("PUT", "acct-nobody-" + account, "{\"mode\":\"check\"}").statusCode())
        .isEqualTo(404);
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A gateway that leases accounts' credit (forced on, over SQLite) counts its lease operations on
 * {@code /metrics} and lists the account's leases beside its holds.
 */
class LeaseMetricsTest extends GatewayTestSupport {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"), "credit.leases", "on");
  }

  @Test
  void aCallGrowsALeaseThatMetricsCountAndTheHoldsListingShows() throws Exception {
    Map<String, Double> before = MetricsAndHealthTest.parse(get("/metrics").body());
    String account = account();
    String key = userKey(account, 100_000);
    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    Map<String, Double> after = MetricsAndHealthTest.parse(get("/metrics").body());
    String leases = "creditgate_leases_total";
    assertThat(
            MetricsAndHealthTest.sum(after, leases, "event=\"grown\"")
                - MetricsAndHealthTest.sum(before, leases, "event=\"grown\""))
        // Once for the call; a second time in the background when the first grant, at most half
        // of what the account had free beyond the call's hold, left less than half a slice.
        .isBetween(1.0, 2.0);
    HttpResponse<String> holds = admin("GET", "/accounts/" + account + "/holds", null, Map.of());
    assertThat(holds.statusCode()).isEqualTo(200);
    JsonNode body = JSON.readTree(holds.body());
    assertThat(body.path("leases")).hasSize(1);
    JsonNode lease = body.path("leases").get(0);
    assertThat(lease.path("holder").asText()).contains("@");
    assertThat(lease.path("credits").asLong()).isPositive();
    assertThat(body.path("leased").asLong()).isEqualTo(lease.path("credits").asLong());
  }

  @Test
  void theCliListsTheLeasesOfEveryGateway() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    CliTest.Result listed =
        CliTest.run("holds", "list", account, "--gateway-url", base, "--admin-token", ADMIN_TOKEN);
    assertThat(listed.exit()).as(listed.err()).isZero();
    assertThat(listed.out())
        .contains("no holds open for account '" + account + "'")
        .containsPattern("HOLDER\\s+LEASED\\s+EXPIRES_AT")
        .containsPattern("\\d+@\\S+\\s+[1-9]\\d*\\s+\\d{4}-")
        .containsPattern("[1-9]\\d* credits leased by all gateways of account '" + account + "'");
  }
}

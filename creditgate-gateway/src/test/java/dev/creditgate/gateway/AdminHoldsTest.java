package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** An operator's view of strict-credit holds through the admin API: list them, release one. */
class AdminHoldsTest extends GatewayTestSupport {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }

  @Test
  void aCallInFlightShowsItsHoldAndAnOperatorCanReleaseIt() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    CountDownLatch release = upstream.holdStream();
    BufferedReader stream = startStream(key);

    HttpResponse<String> listed = admin("GET", "/accounts/" + account + "/holds", null, Map.of());
    assertThat(listed.statusCode()).isEqualTo(200);
    JsonNode holds = JSON.readTree(listed.body());
    assertThat(holds.path("data")).hasSize(1);
    JsonNode hold = holds.path("data").get(0);
    long credits = hold.path("credits").asLong();
    assertThat(credits).isPositive();
    assertThat(holds.path("held").asLong()).isEqualTo(credits);
    assertThat(hold.path("instance").asText()).contains("@");
    JsonNode shown = JSON.readTree(admin("GET", "/accounts/" + account, null, Map.of()).body());
    assertThat(shown.path("held").asLong()).isEqualTo(credits);
    assertThat(shown.path("available").asLong()).isEqualTo(1_000_000 - credits);

    String eventId = hold.path("event_id").asText();
    String path = "/accounts/" + account + "/holds/" + eventId;
    assertThat(admin("DELETE", path, null, Map.of()).statusCode()).isEqualTo(200);
    assertThat(
            JSON.readTree(admin("GET", "/accounts/" + account + "/holds", null, Map.of()).body())
                .path("data"))
        .isEmpty();
    HttpResponse<String> again = admin("DELETE", path, null, Map.of());
    assertThat(again.statusCode()).isEqualTo(404);
    assertThat(code(again)).isEqualTo("hold_not_found");

    // The call itself goes on and is still charged when it ends.
    release.countDown();
    while (stream.readLine() != null) {}
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                ledger.awaitCharges(account, Duration.ofSeconds(1))
                    && charges(account).size() == 1);
    assertThat(charges(account).get(0).eventId()).isEqualTo(eventId);
  }

  @Test
  void holdsNeedTheAdminToken() throws Exception {
    HttpResponse<String> r =
        http.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(base + "/admin/v1/accounts/x/holds"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(401);
  }
}

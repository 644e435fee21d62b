package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.PriceRule;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A call no price rule prices is never served free: strict credit refuses it before the upstream
 * (its cost has no bound), and check mode charges it at {@code
 * credit.unpriced-fallback-credits-per-1k-tokens}, or refuses it too when no fallback is
 * configured. The only price rule is for the scene {@code priced}; the SIMULATED upstream reports
 * its usage.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UnpricedCallTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String HELLO =
      "{\"model\":\"pro\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";

  Path tmp;
  SimulatedUpstream sim;
  GatewayServer server;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  void startUpstream() throws Exception {
    tmp = Files.createTempDirectory("creditgate-unpriced");
    sim = SimulatedUpstream.builder().build().start();
  }

  @AfterEach
  void stopGateway() {
    if (server != null) {
      server.close();
      server = null;
    }
  }

  @AfterAll
  void stopUpstream() {
    sim.close();
  }

  void start(String mode, String fallback) {
    String name = mode + "-" + UUID.randomUUID().toString().substring(0, 8);
    Map<String, String> props = new HashMap<>();
    props.put("server.port", "0");
    props.put("admin.token", "unpriced-admin-token-0123456789");
    props.put("ledger.url", "jdbc:sqlite:" + tmp.resolve(name + ".db"));
    props.put("ledger.spool-dir", tmp.resolve(name + "-spool").toString());
    props.put("models.pro.base-url", sim.baseUrl());
    props.put("models.pro.model", "sim-pro");
    props.put("models.pro.provider", "simulator");
    props.put("models.pro.max-output-tokens", "100");
    props.put("credit.mode", mode);
    if (fallback != null) {
      props.put("credit.unpriced-fallback-credits-per-1k-tokens", fallback);
    }
    server = GatewayServer.start(GatewayConfig.fromProperties(props, Map.of()), Map.of());
    server
        .ledger()
        .createPriceRule(
            new PriceRule(0, "priced", "", "", 1000, 2000, 0, 0, 1_000_000, 0, 0, true));
  }

  String userKey(String account) {
    server.ledger().grant(account, 1_000_000, "g-" + UUID.randomUUID(), "test", "");
    return server.keys().create(ApiKey.Kind.USER, account, "").secret();
  }

  HttpResponse<String> post(String key, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(HELLO));
    headers.forEach(b::header);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  List<LedgerEntry> charges(String account) {
    assertThat(server.ledger().awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    return server.ledger().entries(account, null, 100).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  @Test
  void strictCreditRefusesAnUnpricedCallBeforeTheUpstream() throws Exception {
    start("strict", null);
    String account = "acct-" + UUID.randomUUID();
    long before = sim.stats().chatRequests();
    HttpResponse<String> r = post(userKey(account), Map.of());
    assertThat(r.statusCode()).isEqualTo(402);
    assertThat(JSON.readTree(r.body()).path("error").path("code").asText()).isEqualTo("unpriced");
    assertThat(sim.stats().chatRequests()).isEqualTo(before);
    assertThat(charges(account)).isEmpty();
  }

  @Test
  void checkModeWithoutAFallbackRefusesAnUnpricedCallBeforeTheUpstream() throws Exception {
    start("check", null);
    String account = "acct-" + UUID.randomUUID();
    long before = sim.stats().chatRequests();
    HttpResponse<String> r = post(userKey(account), Map.of());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(402);
    assertThat(JSON.readTree(r.body()).path("error").path("code").asText()).isEqualTo("unpriced");
    assertThat(sim.stats().chatRequests()).isEqualTo(before);
    assertThat(charges(account)).isEmpty();
  }

  @Test
  void checkModeChargesAnUnpricedCallAtTheFallbackAndSaysSo() throws Exception {
    start("check", "50");
    String account = "acct-" + UUID.randomUUID();
    HttpResponse<String> r = post(userKey(account), Map.of());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode usage = JSON.readTree(r.body()).path("usage");
    long tokens = usage.path("prompt_tokens").asLong() + usage.path("completion_tokens").asLong();
    assertThat(tokens).isPositive();
    assertThat(charges(account))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.unpriced()).isTrue();
              assertThat(-e.amount()).isEqualTo((tokens * 50 + 999) / 1000).isPositive();
              assertThat(
                      JSON.readTree(e.metadata())
                          .path("unpriced_fallback_credits_per_1k_tokens")
                          .asLong())
                  .isEqualTo(50);
            });
    assertThat(r.headers().firstValue("X-Creditgate-Charged"))
        .hasValue(Long.toString((tokens * 50 + 999) / 1000));
  }

  @Test
  void aPricedCallIsChargedByItsRuleWhateverTheFallback() throws Exception {
    start("check", "50");
    String account = "acct-" + UUID.randomUUID();
    server.ledger().grant(account, 1_000_000, "g-" + UUID.randomUUID(), "test", "");
    String service = server.keys().create(ApiKey.Kind.SERVICE, "", "").secret();
    HttpResponse<String> r =
        post(service, Map.of("X-Creditgate-Account", account, "X-Creditgate-Scene", "priced"));
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode usage = JSON.readTree(r.body()).path("usage");
    long expected =
        usage.path("prompt_tokens").asLong() + 2 * usage.path("completion_tokens").asLong();
    assertThat(charges(account))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.unpriced()).isFalse();
              assertThat(-e.amount()).isEqualTo(expected);
              assertThat(e.metadata()).doesNotContain("unpriced_fallback");
            });
  }
}

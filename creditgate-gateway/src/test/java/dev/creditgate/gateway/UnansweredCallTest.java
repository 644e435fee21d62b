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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A plain call whose upstream started to answer but whose answer the gateway could not read (larger
 * than {@code upstream.max-answer-bytes}, stalled after its headers, or not started within the
 * first-byte timeout) may have been billed in full by the provider: it is charged its worst case
 * (strict: its hold; check mode: the same usage from the request), marked estimated, never 0. An
 * upstream that refused the connection served nothing and is not charged. {@code n} and {@code
 * top_logprobs}, which multiply an answer's size, are bounded by configuration. PostgreSQL ledger,
 * Redis cache; upstreams: the SIMULATED one, misbehaving.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UnansweredCallTest {

  static final ObjectMapper JSON = new ObjectMapper();

  /** At most this many output tokens a choice; 2 choices. */
  static final long CAP = 50;

  static final String ASK =
      "{\"model\":\"%s\",\"max_tokens\":50,\"n\":2,"
          + "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";

  Path tmp;
  SimulatedUpstream big;
  SimulatedUpstream stalling;
  SimulatedUpstream slow;
  SimulatedUpstream fair;
  SimulatedUpstream gone;
  GatewayServer strict;
  GatewayServer check;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  void start() throws Exception {
    tmp = Files.createTempDirectory("creditgate-unanswered");
    big = SimulatedUpstream.builder().answerPaddingBytes(3 * 1024 * 1024).build().start();
    stalling = SimulatedUpstream.builder().stallAfterHeaders(Duration.ofSeconds(3)).build().start();
    slow = SimulatedUpstream.builder().latency(Duration.ofSeconds(3)).build().start();
    fair = SimulatedUpstream.builder().build().start();
    gone = SimulatedUpstream.builder().build().start();
    strict = gateway("strict");
    check = gateway("check");
    // Closed once the gateways found it ready: its calls meet a refused connection.
    gone.close();
  }

  GatewayServer gateway(String mode) throws Exception {
    Map<String, String> props = new HashMap<>();
    props.put("server.port", "0");
    props.put("admin.token", "unanswered-admin-token-0123456789");
    props.put("ledger.url", TestBackends.freshPostgresSchema("unanswered_" + mode));
    props.put("ledger.spool-dir", tmp.resolve(mode + "-spool").toString());
    props.put("cache.redis-uri", TestBackends.REDIS_URI);
    props.put("cache.redis-prefix", TestBackends.freshRedisPrefix("unanswered-" + mode));
    props.put("credit.mode", mode);
    props.put("upstream.max-answer-bytes", Integer.toString(1024 * 1024));
    props.put("upstream.first-byte-timeout", "1s");
    props.put("upstream.idle-timeout", "500ms");
    props.put("limits.max-n", "4");
    props.put("limits.max-top-logprobs", "5");
    for (String alias : List.of("big", "stalling", "slow", "fair", "gone")) {
      SimulatedUpstream sim =
          switch (alias) {
            case "big" -> big;
            case "stalling" -> stalling;
            case "slow" -> slow;
            case "fair" -> fair;
            default -> gone;
          };
      props.put("models." + alias + ".base-url", sim.baseUrl());
      props.put("models." + alias + ".model", "sim-pro");
      props.put("models." + alias + ".provider", "simulator");
      props.put("models." + alias + ".max-output-tokens", "100");
    }
    GatewayServer server =
        GatewayServer.start(GatewayConfig.fromProperties(props, Map.of()), Map.of());
    // A credit per input token and two per output token.
    server
        .ledger()
        .createPriceRule(new PriceRule(0, "", "", "", 1000, 2000, 0, 0, 1_000_000, 0, 0, true));
    return server;
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {strict, check, big, stalling, slow, fair, gone}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // best effort
      }
    }
  }

  String userKey(GatewayServer server, String account) {
    server.ledger().grant(account, 1_000_000, "g-" + UUID.randomUUID(), "test", "");
    return server.keys().create(ApiKey.Kind.USER, account, "").secret();
  }

  HttpResponse<String> post(GatewayServer server, String key, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  List<LedgerEntry> charges(GatewayServer server, String account) {
    assertThat(server.ledger().awaitCharges(account, Duration.ofSeconds(10))).isTrue();
    return server.ledger().entries(account, null, 100).items().stream()
        .filter(e -> e.kind() == EntryKind.CHARGE)
        .toList();
  }

  /** The input a request is held for on a route with the bytes tokenizer: its body's bytes. */
  static long input(String body) {
    return body.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
  }

  /** Asserts the call was refused with {@code status} and {@code code} and charged its hold. */
  void chargedItsHold(String alias, int status, String code) throws Exception {
    String account = "acct-" + UUID.randomUUID();
    String body = ASK.formatted(alias);
    HttpResponse<String> r = post(strict, userKey(strict, account), body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(JSON.readTree(r.body()).path("error").path("code").asText()).isEqualTo(code);
    long reserved = Long.parseLong(r.headers().firstValue("X-Creditgate-Reserved").orElseThrow());
    assertThat(reserved).isEqualTo(input(body) + 2 * CAP * 2);
    assertThat(r.headers().firstValue("X-Creditgate-Charged")).hasValue(Long.toString(reserved));
    assertThat(r.headers().firstValue("X-Creditgate-Estimated")).hasValue("true");
    assertThat(charges(strict, account))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(-e.amount()).isEqualTo(reserved);
              assertThat(e.estimated()).isTrue();
              assertThat(e.usage().outputTokens()).isEqualTo(2 * CAP);
            });
  }

  @Test
  void anAnswerOverTheSizeCapIsChargedItsHold() throws Exception {
    chargedItsHold("big", 502, "upstream_bad_response");
  }

  @Test
  void anAnswerThatStallsAfterItsHeadersIsChargedItsHold() throws Exception {
    chargedItsHold("stalling", 504, "upstream_timeout");
  }

  @Test
  void anUpstreamSilentPastTheFirstByteTimeoutIsChargedItsHold() throws Exception {
    chargedItsHold("slow", 504, "upstream_timeout");
  }

  @Test
  void checkModeChargesAnOversizedAnswerTheRequestsWorstCase() throws Exception {
    String account = "acct-" + UUID.randomUUID();
    String body = ASK.formatted("big");
    HttpResponse<String> r = post(check, userKey(check, account), body);
    assertThat(r.statusCode()).isEqualTo(502);
    assertThat(r.headers().firstValue("X-Creditgate-Reserved")).isEmpty();
    long worst = input(body) + 2 * CAP * 2;
    assertThat(r.headers().firstValue("X-Creditgate-Charged")).hasValue(Long.toString(worst));
    assertThat(charges(check, account))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(-e.amount()).isEqualTo(worst);
              assertThat(e.estimated()).isTrue();
            });
  }

  @Test
  void anUpstreamThatRefusesTheConnectionIsNotCharged() throws Exception {
    String account = "acct-" + UUID.randomUUID();
    HttpResponse<String> r = post(strict, userKey(strict, account), ASK.formatted("gone"));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(502);
    assertThat(JSON.readTree(r.body()).path("error").path("code").asText())
        .isEqualTo("upstream_unavailable");
    assertThat(charges(strict, account)).isEmpty();
    assertThat(strict.ledger().account(account).orElseThrow().balance()).isEqualTo(1_000_000);
  }

  @Test
  void nAndTopLogprobsAreBoundedByConfigurationAndNothingIsCalled() throws Exception {
    String account = "acct-" + UUID.randomUUID();
    String key = userKey(strict, account);
    long before = fair.stats().chatRequests();
    for (String[] ask :
        new String[][] {
          {"\"n\":5", "n"},
          {"\"logprobs\":true,\"top_logprobs\":6", "top_logprobs"},
          {"\"logprobs\":true,\"top_logprobs\":-1", "top_logprobs"},
          {"\"logprobs\":true,\"top_logprobs\":2.5", "top_logprobs"},
          {"\"logprobs\":\"yes\"", "logprobs"}
        }) {
      HttpResponse<String> r =
          post(
              strict,
              key,
              "{\"model\":\"fair\","
                  + ask[0]
                  + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
      assertThat(r.statusCode()).as(ask[0]).isEqualTo(400);
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertThat(error.path("param").asText()).as(ask[0]).isEqualTo(ask[1]);
    }
    assertThat(fair.stats().chatRequests()).isEqualTo(before);
    assertThat(charges(strict, account)).isEmpty();
  }

  @Test
  void everyChoiceIsHeldAndAnAllowedLogprobsCallIsServed() throws Exception {
    String account = "acct-" + UUID.randomUUID();
    String body =
        "{\"model\":\"fair\",\"max_tokens\":50,\"n\":4,\"logprobs\":true,\"top_logprobs\":5,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
    HttpResponse<String> r = post(strict, userKey(strict, account), body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.headers().firstValue("X-Creditgate-Reserved"))
        .hasValue(Long.toString(input(body) + 2 * CAP * 4));
  }
}

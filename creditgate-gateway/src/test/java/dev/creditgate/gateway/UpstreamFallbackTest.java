package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import dev.creditgate.pricing.Usage;
import dev.creditgate.sim.Fault;
import dev.creditgate.sim.SimulatedUpstream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Aliases with several upstreams: a first upstream that refuses connections, answers 429 or 500, or
 * stalls before its first byte hands the call to the next, which answers it; the call is charged
 * once, at the answering upstream's own price, and the failed attempt not at all. A stream broken
 * midway is not retried and is charged what was relayed. A failing upstream's circuit breaker opens
 * and it is skipped; attempts are bounded; weights decide which upstream goes first.
 */
class UpstreamFallbackTest extends SimulatorGatewaySupport {

  /** The good upstream every alias falls back to, priced by its own rule. */
  SimulatedUpstream good;

  final Map<String, SimulatedUpstream> first = new HashMap<>();
  final List<SimulatedUpstream> extra = new ArrayList<>();
  PriceRule goodRule;

  static final String[] FAULTY = {"refuse", "limited", "broken", "stalled", "midway", "flaky"};

  @Override
  void configure(Map<String, String> props) {
    good = SimulatedUpstream.builder().build().start();
    props.put("upstream.first-byte-timeout", "1s");
    props.put("upstream.cooldown", "1m");
    for (String alias : FAULTY) {
      SimulatedUpstream s = SimulatedUpstream.builder().build().start();
      first.put(alias, s);
      twoUpstreams(props, alias, s.baseUrl(), "openai");
    }
    SimulatedUpstream overloaded = SimulatedUpstream.builder().build().start();
    first.put("claude-fb", overloaded);
    twoUpstreams(props, "claude-fb", overloaded.baseUrl(), "anthropic");
    // Three failing upstreams before the good one: max-attempts (3) stops before it.
    for (int i = 0; i < 3; i++) {
      SimulatedUpstream s = SimulatedUpstream.builder().fault(Fault.status(500)).build().start();
      extra.add(s);
      props.put("models.bounded.upstreams." + i + ".base-url", s.baseUrl());
      props.put("models.bounded.upstreams." + i + ".model", "m-bad");
    }
    props.put("models.bounded.upstreams.3.base-url", good.baseUrl());
    props.put("models.bounded.upstreams.3.model", "m-good");
    // Weighted: the first upstream has weight 0, so it is only ever a fallback.
    SimulatedUpstream unused = SimulatedUpstream.builder().build().start();
    extra.add(unused);
    first.put("spread", unused);
    props.put("models.spread.routing", "weighted");
    props.put("models.spread.base-url", unused.baseUrl());
    props.put("models.spread.model", "m-unused");
    props.put("models.spread.weight", "0");
    props.put("models.spread.upstreams.0.base-url", good.baseUrl());
    props.put("models.spread.upstreams.0.model", "m-good");
    props.put("models.spread.upstreams.0.provider", "prov-good");
  }

  @Override
  void started() {
    // The good upstream's provider has a price of its own, twice the other's.
    goodRule =
        ledger.createPriceRule(
            new PriceRule(
                0, "", "prov-good", "", 6400, 32000, 1600, 32000, 1_000_000, 0, 10, true));
  }

  private void twoUpstreams(
      Map<String, String> props, String alias, String firstUrl, String protocol) {
    props.put("models." + alias + ".protocol", protocol);
    props.put("models." + alias + ".base-url", firstUrl);
    props.put("models." + alias + ".model", "m-first");
    props.put("models." + alias + ".provider", "prov-first");
    props.put("models." + alias + ".max-output-tokens", "100");
    props.put("models." + alias + ".upstreams.0.base-url", good.baseUrl());
    props.put("models." + alias + ".upstreams.0.model", "m-good");
    props.put("models." + alias + ".upstreams.0.provider", "prov-good");
  }

  @AfterAll
  @Override
  void stop() throws Exception {
    super.stop();
    good.close();
    first.values().forEach(SimulatedUpstream::close);
    extra.forEach(SimulatedUpstream::close);
  }

  HttpResponse<String> chat(String key, String alias, boolean stream) throws Exception {
    return post(
        "/v1/chat/completions",
        key,
        "{\"model\":\""
            + alias
            + "\",\"stream\":"
            + stream
            + (stream ? ",\"stream_options\":{\"include_usage\":true}" : "")
            + ",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}",
        Map.of());
  }

  /** A plain call to {@code alias}, answered by the good upstream and charged once at its price. */
  void answeredByTheSecondAndChargedOnceAtItsPrice(String alias) throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    long goodCallsBefore = good.stats().chatRequests();
    HttpResponse<String> r = chat(key, alias, false);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode body = JSON.readTree(r.body());
    assertThat(body.path("model").asText()).isEqualTo("m-good");
    assertThat(good.stats().chatRequests()).isEqualTo(goodCallsBefore + 1);
    JsonNode u = body.path("usage");
    Usage usage =
        new Usage(
            u.path("prompt_tokens").asLong(),
            u.path("completion_tokens").asLong(),
            u.path("prompt_tokens_details").path("cached_tokens").asLong(),
            u.path("completion_tokens_details").path("reasoning_tokens").asLong());
    long expected = Pricing.quote(goodRule, usage).credits();
    assertThat(expected).isGreaterThan(credits(usage));
    assertThat(u.path(FIELD).asLong()).isEqualTo(expected);
    LedgerEntry charge = theCharge(account);
    assertThat(charge.amount()).isEqualTo(-expected);
    assertThat(balance(account)).isEqualTo(1_000_000 - expected);
  }

  @Test
  void aFirstUpstreamThatRefusesConnectionsHandsTheCallToTheNext() throws Exception {
    first.get("refuse").fault(Fault.refuseConnections());
    answeredByTheSecondAndChargedOnceAtItsPrice("refuse");
  }

  @Test
  void aFirstUpstreamThatAnswers429HandsTheCallToTheNext() throws Exception {
    SimulatedUpstream limited = first.get("limited");
    limited.fault(Fault.status(429));
    long before = limited.stats().chatRequests();
    answeredByTheSecondAndChargedOnceAtItsPrice("limited");
    assertThat(limited.stats().chatRequests()).isEqualTo(before + 1);
  }

  @Test
  void aFirstUpstreamThatAnswers500HandsTheCallToTheNext() throws Exception {
    SimulatedUpstream broken = first.get("broken");
    broken.fault(Fault.status(500));
    long before = broken.stats().chatRequests();
    answeredByTheSecondAndChargedOnceAtItsPrice("broken");
    assertThat(broken.stats().chatRequests()).isEqualTo(before + 1);
  }

  @Test
  void aFirstUpstreamThatStallsBeforeItsFirstByteHandsTheCallToTheNextUncharged() throws Exception {
    first.get("stalled").fault(Fault.stallBeforeFirstByte(Duration.ofSeconds(4)));
    long began = System.nanoTime();
    answeredByTheSecondAndChargedOnceAtItsPrice("stalled");
    assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(4));
  }

  @Test
  void aStreamThatBreaksMidwayIsNotRetriedAndIsChargedWhatWasRelayed() throws Exception {
    first.get("midway").fault(Fault.abortAfterChunks(3));
    String account = account();
    String key = userKey(account, 1_000_000);
    long goodCallsBefore = good.stats().chatRequests();
    HttpResponse<String> r = chat(key, "midway", true);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).doesNotContain("m-good");
    assertThat(good.stats().chatRequests()).isEqualTo(goodCallsBefore);
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    assertThat(-charge.amount()).isGreaterThanOrEqualTo(credits(new Usage(0, 3, 0, 0)));
  }

  @Test
  void anUpstreamThatKeepsFailingIsSkippedOnceItsBreakerOpens() throws Exception {
    SimulatedUpstream flaky = first.get("flaky");
    flaky.fault(Fault.status(503));
    long before = flaky.stats().chatRequests();
    String key = userKey(account(), 1_000_000);
    for (int i = 0; i < 8; i++) {
      HttpResponse<String> r = chat(key, "flaky", false);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
    // The breaker opens after its minimum of 5 attempts, all failed; the rest skip the upstream.
    assertThat(flaky.stats().chatRequests() - before).isEqualTo(5);
    // The rest go to the other upstream first, as the breaker's upstream is tried last.
    assertThat(metric("creditgate_upstream_attempts_seconds_count", "flaky", "status_5xx"))
        .isEqualTo(5);
    assertThat(metric("creditgate_upstream_attempts_seconds_count", "flaky", "answered"))
        .isEqualTo(8);
  }

  @Test
  void attemptsAreBoundedAndTheLastFailureIsTheClients() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    long goodCallsBefore = good.stats().chatRequests();
    HttpResponse<String> r = chat(key, "bounded", false);
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(good.stats().chatRequests()).isEqualTo(goodCallsBefore);
    for (SimulatedUpstream s : extra.subList(0, 3)) {
      assertThat(s.stats().chatRequests()).isEqualTo(1);
    }
    assertThat(charges(account)).isEmpty();
    assertThat(balance(account)).isEqualTo(1_000_000);
  }

  @Test
  void anUpstreamOfWeightZeroIsOnlyAFallback() throws Exception {
    String key = userKey(account(), 1_000_000);
    for (int i = 0; i < 10; i++) {
      assertThat(chat(key, "spread", false).statusCode()).isEqualTo(200);
    }
    assertThat(first.get("spread").stats().chatRequests()).isZero();
  }

  @Test
  void anthropicMessagesFallBackTheSameWay() throws Exception {
    SimulatedUpstream overloaded = first.get("claude-fb");
    overloaded.fault(Fault.status(529));
    String account = account();
    String key = userKey(account, 1_000_000);
    HttpResponse<String> r =
        post(
            "/v1/messages",
            key,
            "{\"model\":\"claude-fb\",\"max_tokens\":20,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}",
            Map.of("anthropic-version", "2023-06-01"));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(overloaded.stats().messagesRequests()).isEqualTo(1);
    JsonNode u = JSON.readTree(r.body()).path("usage");
    long reads = u.path("cache_read_input_tokens").asLong();
    long input =
        u.path("input_tokens").asLong() + reads + u.path("cache_creation_input_tokens").asLong();
    long expected =
        Pricing.quote(goodRule, new Usage(input, u.path("output_tokens").asLong(), reads, 0))
            .credits();
    assertThat(u.path(FIELD).asLong()).isEqualTo(expected);
    assertThat(theCharge(account).amount()).isEqualTo(-expected);
  }

  /** A counter or timer count of {@code /metrics} for an upstream attempt outcome. */
  long metric(String name, String alias, String outcome) throws Exception {
    String text =
        http.send(
                HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    for (String line : text.split("\n")) {
      if (line.startsWith(name + "{")
          && line.contains("alias=\"" + alias + "\"")
          && line.contains("outcome=\"" + outcome + "\"")) {
        return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return 0;
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.sim.Fault;
import dev.creditgate.sim.SimulatedUpstream;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * An upstream that took the call and did not answer within the first-byte timeout, with the
 * fallback deadline passed so that no other upstream is tried: the call is the timed-out one's,
 * refused with 504 and charged its worst case (the provider may bill it), as on an alias with one
 * upstream; never free.
 */
class FallbackDeadlineTest extends SimulatorGatewaySupport {

  SimulatedUpstream stalled;
  SimulatedUpstream good;

  @Override
  void configure(Map<String, String> props) {
    stalled =
        SimulatedUpstream.builder()
            .fault(Fault.stallBeforeFirstByte(Duration.ofSeconds(5)))
            .build()
            .start();
    good = SimulatedUpstream.builder().build().start();
    props.put("upstream.first-byte-timeout", "1s");
    props.put("upstream.fallback-deadline", "500ms");
    props.put("models.pro.base-url", stalled.baseUrl());
    props.put("models.pro.model", "m-stalled");
    props.put("models.pro.max-output-tokens", "100");
    props.put("models.pro.upstreams.0.base-url", good.baseUrl());
    props.put("models.pro.upstreams.0.model", "m-good");
  }

  @AfterAll
  @Override
  void stop() throws Exception {
    super.stop();
    stalled.close();
    good.close();
  }

  @Test
  void aTimeoutWithNoUpstreamTriedAfterItIsChargedItsWorstCase() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    HttpResponse<String> r =
        post(
            "/v1/chat/completions",
            key,
            "{\"model\":\"pro\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}",
            Map.of());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(504);
    assertThat(good.stats().chatRequests()).isZero();
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    // The worst case: the input as counted and the whole 100-token cap.
    assertThat(-charge.amount())
        .isGreaterThanOrEqualTo(credits(new dev.creditgate.pricing.Usage(0, 100, 0, 0)));
    assertThat(r.headers().firstValue("X-Creditgate-Charged"))
        .hasValue(Long.toString(-charge.amount()));
  }
}

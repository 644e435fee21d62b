package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.LedgerEntry;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The first-byte and idle-between-chunks timeouts bound every upstream call. */
class UpstreamTimeoutTest extends GatewayTestSupport {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "upstream.first-byte-timeout", "400ms", "upstream.idle-timeout", "400ms");
  }

  @Test
  void upstreamSlowerThanTheFirstByteTimeoutIs504AndNotCharged() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.headerDelayMillis = 3000;
    long start = System.nanoTime();
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(code(r)).isEqualTo("upstream_timeout");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2500));
    assertThat(charges(account)).isEmpty();
  }

  @Test
  void streamThatGoesSilentIsCutAtTheIdleTimeoutAndChargedAnEstimate() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.chunkDelayMillis = 3000;
    upstream.chunks = 3;
    long start = System.nanoTime();
    HttpResponse<String> r = post(key, HELLO_STREAM, Map.of());
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2500));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"Hello\"").doesNotContain("[DONE]");
    await().atMost(Duration.ofSeconds(5)).until(() -> charges(account).size() == 1);
    LedgerEntry charge = charges(account).get(0);
    assertThat(charge.estimated()).isTrue();
    assertThat(charge.usage().outputTokens()).isPositive();
  }

  @Test
  void plainAnswerThatStallsAfterItsHeadersIs504AtTheIdleTimeoutAndNotCharged() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.bodyStallMillis = 3000;
    long start = System.nanoTime();
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2500));
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(code(r)).isEqualTo("upstream_timeout");
    assertThat(charges(account)).isEmpty();
  }
}

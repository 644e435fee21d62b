package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.LedgerEntry;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The first-byte and idle-between-chunks timeouts bound every upstream call; a call cut by one was
 * taken by the upstream and is charged (its hold, or what a stream relayed).
 */
class UpstreamTimeoutTest extends GatewayTestSupport {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "upstream.first-byte-timeout",
        "400ms",
        "upstream.idle-timeout",
        "400ms");
  }

  /**
   * The upstream took the call and may be generating (and billing) it all the same: the call is
   * charged its hold, the most it can cost.
   */
  @Test
  void upstreamSlowerThanTheFirstByteTimeoutIs504AndChargedItsHold() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.headerDelayMillis = 3000;
    long start = System.nanoTime();
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(code(r)).isEqualTo("upstream_timeout");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2500));
    chargedItsHold(account, r);
  }

  void chargedItsHold(String account, HttpResponse<String> r) {
    long reserved = Long.parseLong(r.headers().firstValue("X-Creditgate-Reserved").orElseThrow());
    assertThat(r.headers().firstValue("X-Creditgate-Charged")).hasValue(Long.toString(reserved));
    await().atMost(Duration.ofSeconds(5)).until(() -> charges(account).size() == 1);
    LedgerEntry charge = charges(account).get(0);
    assertThat(charge.estimated()).isTrue();
    assertThat(-charge.amount()).isEqualTo(reserved);
    // The route's output cap (the request set none).
    assertThat(charge.usage().outputTokens()).isEqualTo(1000);
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
  void plainAnswerThatStallsAfterItsHeadersIs504AtTheIdleTimeoutAndChargedItsHold()
      throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.bodyStallMillis = 3000;
    long start = System.nanoTime();
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2500));
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(code(r)).isEqualTo("upstream_timeout");
    chargedItsHold(account, r);
  }

  /**
   * The idle timeout counts only time spent waiting for the upstream: a client that stops reading
   * for five idle timeouts blocks the gateway's writes (its socket buffers are full), and when it
   * reads again the whole stream arrives and is charged from its reported usage.
   */
  @Test
  void aClientThatStopsReadingIsNotAnIdleUpstream() throws Exception {
    String account = account();
    // The largest output cap, so that strict credit does not cut the long stream off: its hold
    // (10,000,000 output tokens) needs this much credit.
    String key = userKey(account, 200_000_000);
    // About 11 MB of events: more than the client leg's socket buffers hold, so the gateway's
    // writer blocks while the client pauses.
    upstream.chunks = 60_000;
    // As many tokens as pieces of text sent, at least: a usage below that is not believed.
    upstream.usage = "{\"prompt_tokens\":1200,\"completion_tokens\":60000}";
    byte[] body =
        "{\"model\":\"pro\",\"stream\":true,\"max_tokens\":10000000,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}"
            .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    String head =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + key
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + body.length
            + "\r\nConnection: close\r\n\r\n";
    String received;
    try (java.net.Socket socket = new java.net.Socket()) {
      socket.setReceiveBufferSize(4096);
      socket.setSoTimeout(30_000);
      socket.connect(
          new java.net.InetSocketAddress("127.0.0.1", java.net.URI.create(base).getPort()));
      java.io.OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.write(body);
      out.flush();
      java.io.InputStream in = socket.getInputStream();
      byte[] first = in.readNBytes(2048);
      Thread.sleep(2000);
      byte[] rest = in.readAllBytes();
      received =
          new String(first, java.nio.charset.StandardCharsets.UTF_8)
              + new String(rest, java.nio.charset.StandardCharsets.UTF_8);
    }
    assertThat(received).startsWith("HTTP/1.1 200");
    assertThat(received.length()).isGreaterThan(10_000_000);
    assertThat(received).contains("\"usage\"").contains("data: [DONE]");
    await().atMost(Duration.ofSeconds(5)).until(() -> charges(account).size() == 1);
    LedgerEntry charge = charges(account).get(0);
    assertThat(charge.estimated()).isFalse();
    assertThat(charge.usage().outputTokens()).isEqualTo(60_000);
  }
}

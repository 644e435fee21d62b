package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * A call still running when the shutdown timeout ends is cut, and what it served is charged before
 * the ledger closes (the stop must go on after Jetty reports the timeout).
 */
class ShutdownTimeoutTest extends GatewayTestSupport {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"), "server.shutdown-timeout", "1s");
  }

  @Test
  void aStreamStillRunningAtTheShutdownTimeoutIsCutAndChargedForWhatItServed() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    CountDownLatch release = upstream.holdStream();
    HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString(HELLO_STREAM)).build();
    HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
    assertThat(reader.readLine()).contains("\"Hello\"");

    long start = System.nanoTime();
    server.close();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
    release.countDown();

    try (JdbcCreditLedger reopened = JdbcCreditLedger.builder()
        .jdbcUrl("jdbc:sqlite:" + tmp.resolve("creditgate.db"))
        .spoolDirectory(tmp.resolve("spool"))
        .build()) {
      List<LedgerEntry> charges = reopened.entries(account, null, 100).items().stream()
          .filter(e -> e.kind() == EntryKind.CHARGE).toList();
      assertThat(charges).as("the cut stream is charged an estimate of what it served").hasSize(1);
      assertThat(charges.get(0).estimated()).isTrue();
      assertThat(charges.get(0).usage().outputTokens()).isPositive();
    }
  }
}

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
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Stopping the gateway lets a call in flight finish and charges it before the ledger closes. */
class GracefulShutdownTest extends GatewayTestSupport {

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"), "server.shutdown-timeout", "10s");
  }

  @Test
  void aStreamInFlightWhenTheGatewayStopsIsCompletedAndChargedBeforeTheStopReturns() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    CountDownLatch release = upstream.holdStream();
    HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString(HELLO_STREAM)).build();
    HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
    assertThat(reader.readLine()).contains("\"Hello\"");

    CompletableFuture<Void> stop = CompletableFuture.runAsync(server::close);
    Thread.sleep(500);
    assertThat(stop).as("the stop waits for the call in flight").isNotDone();

    release.countDown();
    StringBuilder rest = new StringBuilder();
    for (String line; (line = reader.readLine()) != null; ) {
      rest.append(line).append('\n');
    }
    assertThat(rest.toString()).contains("data: [DONE]");
    stop.get(15, TimeUnit.SECONDS);

    try (JdbcCreditLedger reopened = JdbcCreditLedger.builder()
        .jdbcUrl("jdbc:sqlite:" + tmp.resolve("creditgate.db"))
        .spoolDirectory(tmp.resolve("spool"))
        .build()) {
      List<LedgerEntry> charges = reopened.entries(account, null, 100).items().stream()
          .filter(e -> e.kind() == EntryKind.CHARGE).toList();
      assertThat(charges).hasSize(1);
      assertThat(charges.get(0).amount()).isEqualTo(-expectedCredits);
      assertThat(reopened.stats().spoolPending()).isZero();
    }
  }
}

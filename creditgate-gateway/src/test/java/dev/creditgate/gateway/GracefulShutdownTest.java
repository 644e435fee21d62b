package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.ledger.LedgerEntry;
import java.io.BufferedReader;
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
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "server.shutdown-timeout",
        "10s");
  }

  @Test
  void aStreamInFlightWhenTheGatewayStopsIsCompletedAndChargedBeforeTheStopReturns()
      throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    CountDownLatch release = upstream.holdStream();
    BufferedReader reader = startStream(key);

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

    List<LedgerEntry> charges = chargesInClosedSqliteLedger(account);
    assertThat(charges).hasSize(1);
    assertThat(charges.get(0).amount()).isEqualTo(-expectedCredits);
  }
}

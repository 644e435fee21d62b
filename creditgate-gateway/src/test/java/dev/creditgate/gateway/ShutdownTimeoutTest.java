package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.ledger.LedgerEntry;
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
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "server.shutdown-timeout",
        "1s");
  }

  @Test
  void aStreamStillRunningAtTheShutdownTimeoutIsCutAndChargedForWhatItServed() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    CountDownLatch release = upstream.holdStream();
    startStream(key);

    long start = System.nanoTime();
    server.close();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
    release.countDown();

    List<LedgerEntry> charges = chargesInClosedSqliteLedger(account);
    assertThat(charges).as("the cut stream is charged an estimate of what it served").hasSize(1);
    assertThat(charges.get(0).estimated()).isTrue();
    assertThat(charges.get(0).usage().outputTokens()).isPositive();
  }
}

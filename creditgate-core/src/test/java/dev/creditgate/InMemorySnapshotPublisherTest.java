package dev.creditgate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The publisher contract on the in-process cache, and the publisher's own options and time budget.
 */
class InMemorySnapshotPublisherTest extends AbstractSnapshotPublisherTest {

  @Override
  protected CreditCache createCache() {
    return InMemoryCreditCache.builder().build();
  }

  @Test
  void aSlowCacheHoldsPublishNoLongerThanTheTimeout() {
    cache.writeFault = ScriptedCache.Fault.SLOW;
    cache.slowBy = Duration.ofSeconds(5);
    try (SnapshotPublisher quick =
        SnapshotPublisher.builder(cache).timeout(Duration.ofMillis(50)).build()) {
      long start = System.nanoTime();
      quick.publish("u1", new CreditSnapshot(1, false, 1, Instant.EPOCH));
      Map<String, CreditSnapshot> many =
          Map.of(
              "u2",
              new CreditSnapshot(1, false, 1, Instant.EPOCH),
              "u3",
              new CreditSnapshot(0, false, 1, Instant.EPOCH));
      quick.publishAll(many);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
    }
  }

  @Test
  void optionsAreValidatedWithTheValueInTheMessage() {
    CreditCache any = InMemoryCreditCache.builder().build();
    assertThatThrownBy(() -> SnapshotPublisher.builder(any).snapshotTtl(Duration.ZERO))
        .hasMessage("snapshotTtl must be positive, but was PT0S");
    assertThatThrownBy(() -> SnapshotPublisher.builder(any).blockedTtl(Duration.ofSeconds(-1)))
        .hasMessage("blockedTtl must be positive, but was PT-1S");
    assertThatThrownBy(() -> SnapshotPublisher.builder(any).timeout(null))
        .hasMessage("timeout must be positive, but was null");
    assertThatThrownBy(() -> SnapshotPublisher.builder(any).retryBackoff(Duration.ZERO))
        .hasMessage("retryBackoff must be positive, but was PT0S");
    assertThatThrownBy(() -> SnapshotPublisher.builder(null)).hasMessage("cache");
  }

  @Test
  void defaults() {
    assertThat(SnapshotPublisher.DEFAULT_SNAPSHOT_TTL).isEqualTo(Duration.ofMinutes(10));
    assertThat(SnapshotPublisher.DEFAULT_BLOCKED_TTL).isEqualTo(Duration.ofMinutes(5));
    assertThat(SnapshotPublisher.DEFAULT_TIMEOUT).isEqualTo(Duration.ofMillis(50));
    assertThat(SnapshotPublisher.DEFAULT_RETRY_BACKOFF).isEqualTo(Duration.ofMillis(50));
  }
}

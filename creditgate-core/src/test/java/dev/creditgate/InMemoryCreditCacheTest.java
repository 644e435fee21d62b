package dev.creditgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class InMemoryCreditCacheTest extends AbstractCreditCacheContractTest {

  private final FakeTicker ticker = new FakeTicker();

  @Override
  protected CreditCache createCache() {
    return InMemoryCreditCache.builder().ticker(ticker).build();
  }

  @Override
  protected void elapse(Duration duration) {
    ticker.advance(duration);
  }

  @Test
  void answersWithCompletedFutures() {
    assertThat(cache.lookup("a").isDone()).isTrue();
    assertThat(
            cache
                .putSnapshot(
                    "a", new CreditSnapshot(1, false, 1, Instant.EPOCH), Duration.ofSeconds(1))
                .isDone())
        .isTrue();
  }

  @Test
  void rejectsNonPositiveMaximumSize() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> InMemoryCreditCache.builder().maximumSize(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maximumSize must be positive, but was 0");
  }
}

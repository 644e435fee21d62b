package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FailedAuthLimiterTest {

  private final AtomicLong nanos = new AtomicLong(123_456_789L);

  @Test
  void anAddressHasItsFailuresAtOnceThenOnePerWindowShare() {
    FailedAuthLimiter limiter = new FailedAuthLimiter(4, Duration.ofSeconds(20), nanos::get);
    for (int i = 0; i < 4; i++) {
      assertThat(limiter.take("a")).isZero();
    }
    assertThat(limiter.take("a")).isEqualTo(5);
    assertThat(limiter.take("b")).as("another address has its own").isZero();
    nanos.addAndGet(Duration.ofSeconds(2).toNanos());
    assertThat(limiter.take("a")).isEqualTo(3);
    nanos.addAndGet(Duration.ofSeconds(3).toNanos());
    assertThat(limiter.take("a")).isZero();
    assertThat(limiter.take("a")).isEqualTo(5);
    // A long quiet time fills the bucket, never beyond its size.
    nanos.addAndGet(Duration.ofDays(3).toNanos());
    for (int i = 0; i < 4; i++) {
      assertThat(limiter.take("a")).isZero();
    }
    assertThat(limiter.take("a")).isPositive();
  }

  @Test
  void anAttemptThatDidNotFailGivesItsTokenBack() {
    FailedAuthLimiter limiter = new FailedAuthLimiter(2, Duration.ofMinutes(1), nanos::get);
    for (int i = 0; i < 100; i++) {
      assertThat(limiter.take("a")).isZero();
      limiter.giveBack("a");
    }
    limiter.giveBack("a");
    limiter.giveBack("a");
    assertThat(limiter.take("a")).isZero();
    assertThat(limiter.take("a")).isZero();
    assertThat(limiter.take("a")).as("giving back never grows the bucket").isEqualTo(30);
  }

  @Test
  void zeroTurnsTheLimitOff() {
    FailedAuthLimiter limiter = new FailedAuthLimiter(0, Duration.ofMinutes(1), nanos::get);
    for (int i = 0; i < 1_000; i++) {
      assertThat(limiter.take("a")).isZero();
    }
  }
}

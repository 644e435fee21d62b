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
      assertThat(limiter.waitSeconds("a")).isZero();
      limiter.failed("a");
    }
    assertThat(limiter.waitSeconds("a")).isEqualTo(5);
    assertThat(limiter.waitSeconds("b")).as("another address has its own").isZero();
    nanos.addAndGet(Duration.ofSeconds(2).toNanos());
    assertThat(limiter.waitSeconds("a")).isEqualTo(3);
    nanos.addAndGet(Duration.ofSeconds(3).toNanos());
    assertThat(limiter.waitSeconds("a")).isZero();
    limiter.failed("a");
    assertThat(limiter.waitSeconds("a")).isEqualTo(5);
    // A long quiet time fills the bucket, never beyond its size.
    nanos.addAndGet(Duration.ofDays(3).toNanos());
    for (int i = 0; i < 4; i++) {
      assertThat(limiter.waitSeconds("a")).isZero();
      limiter.failed("a");
    }
    assertThat(limiter.waitSeconds("a")).isPositive();
  }

  @Test
  void askingTakesNothingOnlyFailuresDo() {
    FailedAuthLimiter limiter = new FailedAuthLimiter(2, Duration.ofMinutes(1), nanos::get);
    for (int i = 0; i < 1_000; i++) {
      assertThat(limiter.waitSeconds("a")).isZero();
    }
    limiter.failed("a");
    limiter.failed("a");
    assertThat(limiter.waitSeconds("a")).isEqualTo(30);
  }

  @Test
  void failuresPastTheLastTokenAreADebtOfAtMostAFullBucket() {
    FailedAuthLimiter limiter = new FailedAuthLimiter(2, Duration.ofMinutes(1), nanos::get);
    // Six guesses that all passed the check together before any failed.
    for (int i = 0; i < 6; i++) {
      limiter.failed("a");
    }
    // Two tokens of debt: a token is back after three token times (90 s), not one.
    assertThat(limiter.waitSeconds("a")).isEqualTo(90);
    nanos.addAndGet(Duration.ofSeconds(89).toNanos());
    assertThat(limiter.waitSeconds("a")).isEqualTo(1);
    nanos.addAndGet(Duration.ofSeconds(1).toNanos());
    assertThat(limiter.waitSeconds("a")).isZero();
  }

  @Test
  void zeroTurnsTheLimitOff() {
    FailedAuthLimiter limiter = new FailedAuthLimiter(0, Duration.ofMinutes(1), nanos::get);
    for (int i = 0; i < 1_000; i++) {
      limiter.failed("a");
      assertThat(limiter.waitSeconds("a")).isZero();
    }
  }
}

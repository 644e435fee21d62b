package dev.creditgate.sim;

import java.util.concurrent.TimeUnit;

/** Time spent "generating": the token rate, and sleeps that survive spurious wake-ups. */
final class Pacing {

  private final int tokensPerSecond;

  Pacing(int tokensPerSecond) {
    this.tokensPerSecond = tokensPerSecond;
  }

  int tokensPerSecond() {
    return tokensPerSecond;
  }

  /** How long this many tokens take at the configured rate; 0 when tokens are instant. */
  long tokenNanos(long tokens) {
    return tokensPerSecond == 0 ? 0 : tokens * TimeUnit.SECONDS.toNanos(1) / tokensPerSecond;
  }

  static void sleepNanos(long nanos) throws InterruptedException {
    if (nanos > 0) {
      sleepUntil(System.nanoTime() + nanos);
    }
  }

  static void sleepUntil(long deadline) throws InterruptedException {
    long remaining;
    while ((remaining = deadline - System.nanoTime()) > 0) {
      TimeUnit.NANOSECONDS.sleep(remaining);
    }
  }
}

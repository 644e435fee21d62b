package dev.creditgate;

import java.time.Duration;

/** Checks for duration options, with the option's name and value in the message. */
final class Durations {

  private Durations() {
  }

  static Duration requirePositive(String name, Duration value) {
    if (value == null || value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive, but was " + value);
    }
    return value;
  }
}

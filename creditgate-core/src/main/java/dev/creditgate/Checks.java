package dev.creditgate;

import java.time.Duration;

/**
 * Argument checks and message helpers shared by every module. A failed check throws an {@link
 * InvalidArgumentException} naming the parameter, with a message that names the value: "ttl must be
 * positive, but was PT0S".
 */
public final class Checks {

  private Checks() {}

  /**
   * Checks that {@code value} is above zero and returns it.
   *
   * @throws InvalidArgumentException when it is null, zero or negative
   */
  public static Duration requirePositive(String name, Duration value) {
    if (value == null || value.isNegative() || value.isZero()) {
      throw new InvalidArgumentException(name, name + " must be positive, but was " + value);
    }
    return value;
  }

  /**
   * Checks {@code min <= value <= max} and returns {@code value}.
   *
   * @throws InvalidArgumentException when it is outside the range
   */
  public static long requireBetween(String name, long value, long min, long max) {
    if (value < min || value > max) {
      throw new InvalidArgumentException(
          name, name + " must be between " + min + " and " + max + ", but was " + value);
    }
    return value;
  }

  /**
   * {@code value} cut to its first {@code maxLength} characters followed by "..." when longer, so a
   * message quoting caller input stays short.
   */
  public static String abbreviate(String value, int maxLength) {
    return value.length() > maxLength ? value.substring(0, maxLength) + "..." : value;
  }
}

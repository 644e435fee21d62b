package dev.creditgate.internal;

/**
 * Credit arithmetic that saturates at {@code Long.MIN_VALUE} / {@code Long.MAX_VALUE} instead of
 * wrapping: sums of debits and room used in comparisons, where a value too large to count must
 * still compare as too large. Not for amounts written to the ledger (those are checked and
 * refused).
 */
public final class Saturating {

  private Saturating() {}

  public static long add(long a, long b) {
    long sum = a + b;
    if (((a ^ sum) & (b ^ sum)) < 0) {
      return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
    return sum;
  }

  public static long subtract(long a, long b) {
    long difference = a - b;
    if (((a ^ b) & (a ^ difference)) < 0) {
      return a < b ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
    return difference;
  }
}

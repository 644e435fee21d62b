package dev.creditgate.pricing;

/**
 * The price of one call's usage.
 *
 * @param costMicros micro-currency, rounded up
 * @param credits credits charged, rounded up
 * @param ruleId the rule that priced it, or 0 when none matched
 * @param unpriced no rule matched: the call costs the price book's fallback for such calls (0
 *     without one) and is flagged, never silently
 */
public record Quote(long costMicros, long credits, long ruleId, boolean unpriced) {

  public static final Quote UNPRICED = new Quote(0, 0, 0, true);

  public Quote {
    if (costMicros < 0 || credits < 0) {
      throw new IllegalArgumentException(
          "costMicros and credits must be >= 0, but were " + costMicros + ", " + credits);
    }
  }
}

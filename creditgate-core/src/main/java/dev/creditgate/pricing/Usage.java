package dev.creditgate.pricing;

/**
 * Tokens one LLM call used, as the upstream reported them (or as estimated).
 *
 * @param inputTokens prompt tokens, cached ones included
 * @param outputTokens completion tokens, reasoning ones included
 * @param cachedTokens prompt tokens served from the provider's cache
 * @param reasoningTokens completion tokens spent on reasoning
 */
public record Usage(long inputTokens, long outputTokens, long cachedTokens, long reasoningTokens) {

  public static final Usage ZERO = new Usage(0, 0, 0, 0);

  public Usage {
    requireNonNegative("inputTokens", inputTokens);
    requireNonNegative("outputTokens", outputTokens);
    requireNonNegative("cachedTokens", cachedTokens);
    requireNonNegative("reasoningTokens", reasoningTokens);
  }

  /** The field-by-field maximum of the two, as a stream's usage is taken (largest value seen). */
  public Usage max(Usage other) {
    return new Usage(
        Math.max(inputTokens, other.inputTokens),
        Math.max(outputTokens, other.outputTokens),
        Math.max(cachedTokens, other.cachedTokens),
        Math.max(reasoningTokens, other.reasoningTokens));
  }

  public boolean isZero() {
    return inputTokens == 0 && outputTokens == 0 && cachedTokens == 0 && reasoningTokens == 0;
  }

  private static void requireNonNegative(String name, long value) {
    if (value < 0) {
      throw new IllegalArgumentException(name + " must be >= 0, but was " + value);
    }
  }
}

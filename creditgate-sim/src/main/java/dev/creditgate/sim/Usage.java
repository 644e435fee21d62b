package dev.creditgate.sim;

/**
 * Reported usage of one answer, in the simulator's own terms; each protocol writes it in its shape.
 *
 * @param promptTokens the whole counted prompt, cached or not
 * @param completionTokens output tokens, reasoning included
 * @param cachedTokens prompt tokens read from a cache
 * @param reasoningTokens output tokens spent on hidden reasoning
 * @param cacheCreationTokens prompt tokens written to a cache (Anthropic's cache creation)
 */
record Usage(
    int promptTokens,
    int completionTokens,
    int cachedTokens,
    int reasoningTokens,
    int cacheCreationTokens) {

  /** Usage without cache writes. */
  Usage(int promptTokens, int completionTokens, int cachedTokens, int reasoningTokens) {
    this(promptTokens, completionTokens, cachedTokens, reasoningTokens, 0);
  }

  long totalTokens() {
    return (long) promptTokens + completionTokens;
  }
}

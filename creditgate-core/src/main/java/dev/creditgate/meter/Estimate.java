package dev.creditgate.meter;

import dev.creditgate.pricing.Usage;
import java.util.Objects;

/**
 * The most a call can use, known before it runs: the provider and model it is priced on, its input
 * tokens (counted from the request), and its output cap per choice times its choices. A strict
 * meter holds the cost of this usage; every meter records it with the call and charges it should
 * the call's real usage be lost.
 *
 * @param provider the provider the call is priced on, as price rules name it
 * @param model the provider's model
 * @param inputTokens the input tokens counted from the request
 * @param maxOutputTokens the output cap of one choice (what the upstream is told)
 * @param choices how many choices the call asks for ({@code n}), at least 1
 */
public record Estimate(
    String provider, String model, long inputTokens, long maxOutputTokens, int choices) {

  public Estimate {
    provider = Objects.requireNonNullElse(provider, "");
    model = Objects.requireNonNullElse(model, "");
    if (inputTokens < 0) {
      throw new IllegalArgumentException(
          "inputTokens must not be negative, but was " + inputTokens);
    }
    if (maxOutputTokens < 0) {
      throw new IllegalArgumentException(
          "maxOutputTokens must not be negative, but was " + maxOutputTokens);
    }
    if (choices < 1) {
      throw new IllegalArgumentException("choices must be at least 1, but was " + choices);
    }
    Math.multiplyExact(maxOutputTokens, (long) choices);
  }

  /** The output tokens of all choices together. */
  public long totalOutputTokens() {
    return maxOutputTokens * choices;
  }

  /** The estimate as usage: its input, and its output cap for every choice. */
  public Usage usage() {
    return new Usage(inputTokens, totalOutputTokens(), 0, 0);
  }

  /** The same estimate with a lower output cap per choice. */
  public Estimate withMaxOutputTokens(long cap) {
    return new Estimate(provider, model, inputTokens, cap, choices);
  }
}

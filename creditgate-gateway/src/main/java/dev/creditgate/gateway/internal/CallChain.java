package dev.creditgate.gateway.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import java.util.List;

/**
 * Runs a {@link CallExchange} through its steps in order. The last step answers; one that calls
 * {@link CallStep.Chain#proceed} has nothing after it, a wiring error.
 */
final class CallChain {

  private final List<CallStep> steps;
  private final Ticker ticker;

  /**
   * The steps in order; {@code ticker} times each step's start ({@link CallExchange#stepStarts}).
   */
  CallChain(List<CallStep> steps, Ticker ticker) {
    if (steps.isEmpty()) {
      throw new IllegalArgumentException("a chat chain needs at least one step");
    }
    this.steps = List.copyOf(steps);
    this.ticker = ticker;
  }

  void run(CallExchange exchange) {
    proceed(exchange, 0);
  }

  private void proceed(CallExchange exchange, int index) {
    if (index >= steps.size()) {
      throw new IllegalStateException(
          "the last step of the chat chain, "
              + steps.get(steps.size() - 1).getClass().getSimpleName()
              + ", called proceed");
    }
    if (index < exchange.stepStarts.length) {
      exchange.stepStarts[index] = ticker.read();
    }
    steps.get(index).process(exchange, next -> proceed(next, index + 1));
  }
}

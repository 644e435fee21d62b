package dev.creditgate.gateway.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import java.util.List;

/**
 * Runs a {@link ChatExchange} through its steps in order. The last step answers; one that calls
 * {@link ChatStep.Chain#proceed} has nothing after it, a wiring error.
 */
final class ChatChain {

  private final List<ChatStep> steps;
  private final Ticker ticker;

  /**
   * The steps in order; {@code ticker} times each step's start ({@link ChatExchange#stepStarts}).
   */
  ChatChain(List<ChatStep> steps, Ticker ticker) {
    if (steps.isEmpty()) {
      throw new IllegalArgumentException("a chat chain needs at least one step");
    }
    this.steps = List.copyOf(steps);
    this.ticker = ticker;
  }

  void run(ChatExchange exchange) {
    proceed(exchange, 0);
  }

  private void proceed(ChatExchange exchange, int index) {
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

package dev.creditgate.gateway.internal;

import dev.creditgate.gateway.ApiError;

/**
 * One step of a chat completion: parse, admit, call the upstream, relay. A step does its job on the
 * {@link CallExchange}, then hands it to the rest of the chain (or, the last step, answers), and
 * may act again once the rest returns: a step that opens something closes it there.
 *
 * <p>A step refuses a call by throwing {@link ApiError}; the chain's owner writes it to the client.
 */
interface CallStep {

  void process(CallExchange exchange, Chain next);

  /** The steps after the current one. */
  interface Chain {
    void proceed(CallExchange exchange);
  }
}

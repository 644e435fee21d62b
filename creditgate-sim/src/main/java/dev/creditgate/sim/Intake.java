package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.util.function.Function;

/**
 * The steps every protocol request takes before it is answered, in this order: the run-time fault,
 * authentication, a bounded body, the body's and the headers' checks, the request log, and the
 * failure {@code X-Sim-Fail} asks for. Each step that answers ends the request.
 */
final class Intake {

  /** Authenticates a request, answering the refusal itself. */
  interface Admission {
    boolean admit(HttpExchange ex) throws IOException;
  }

  /** Reads a protocol's request from its JSON body. */
  interface Parser<R> {
    R parse(JsonNode root) throws BadRequest;
  }

  /**
   * What one protocol plugs into the steps.
   *
   * @param user the value to log for a request taken on, null for none
   */
  record Steps<R>(
      ErrorShape shape, Admission admission, Parser<R> parser, Function<JsonNode, String> user) {}

  /** A request taken on, to be answered. */
  record Taken<R>(R request, SimHeaders headers, long latencyNanos) {}

  private final SimContext ctx;
  private final FaultGate gate;

  Intake(SimContext ctx, FaultGate gate) {
    this.ctx = ctx;
    this.gate = gate;
  }

  /** Runs the steps; null when one of them has answered. */
  <R> Taken<R> take(HttpExchange ex, Fault fault, Steps<R> steps)
      throws IOException, InterruptedException {
    if (gate.answered(ex, fault, steps.shape()) || !steps.admission().admit(ex)) {
      return null;
    }
    JsonNode root = ctx.readJsonObject(ex, steps.shape());
    if (root == null) {
      return null;
    }
    R request;
    SimHeaders headers;
    try {
      request = steps.parser().parse(root);
      headers = SimHeaders.parse(ex);
    } catch (BadRequest e) {
      ctx.wire.reject(ex, steps.shape(), 400, e.getMessage(), e.param, e.code);
      return null;
    }
    ctx.requestLog.taken(steps.user().apply(root));
    long latency = headers.latencyOr(ctx.latencyNanos);
    if (gate.failedAsAsked(ex, headers, latency, steps.shape())) {
      return null;
    }
    return new Taken<>(request, headers, latency);
  }
}

package dev.creditgate.sim;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Routes each exchange to its endpoint, under the run-time fault read when it arrives. Runs one
 * virtual thread per exchange.
 */
final class SimRouter implements HttpHandler {

  private final SimContext ctx;
  private final Map<String, ProtocolEndpoint> protocols;
  private final ModelsEndpoint models;
  private final ControlEndpoint control;
  private final Supplier<Fault> fault;

  SimRouter(SimContext ctx, ControlEndpoint control, Supplier<Fault> fault) {
    this.ctx = ctx;
    Intake intake = new Intake(ctx, new FaultGate(ctx.wire, ctx.stats));
    this.protocols =
        Map.of(
            "/v1/chat/completions", new ChatCompletionsEndpoint(ctx, intake),
            "/v1/responses", new ResponsesEndpoint(ctx, intake),
            "/v1/embeddings", new EmbeddingsEndpoint(ctx, intake),
            "/v1/messages", new MessagesEndpoint(ctx, intake));
    this.models = new ModelsEndpoint(ctx);
    this.control = control;
    this.fault = fault;
  }

  @Override
  public void handle(HttpExchange ex) {
    Fault current = fault.get();
    try {
      ex.getResponseHeaders().set("X-Simulator", SimContext.FINGERPRINT);
      route(ex, current);
      ex.close();
    } catch (AbortResponse e) {
      ctx.stats.abortedResponses.increment();
      // Escaping the handler makes the JDK server close the socket without the rest of the body.
      throw e;
    } catch (IOException e) {
      ctx.stats.abortedResponses.increment();
      ex.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      ctx.stats.abortedResponses.increment();
      throw new AbortResponse("simulator stopping");
    }
  }

  private void route(HttpExchange ex, Fault current) throws IOException, InterruptedException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    if (path.endsWith("/") && path.length() > 1) {
      path = path.substring(0, path.length() - 1);
    }
    ProtocolEndpoint protocol = protocols.get(path);
    if (protocol != null) {
      if (allowed(ex, method, "POST", protocol.shape())) {
        protocol.handle(ex, current);
      }
      return;
    }
    switch (path) {
      case "/v1/models" -> {
        if (allowed(ex, method, "GET", ErrorShape.OPENAI)) {
          models.list(ex);
        }
      }
      case "/sim/stats" -> control.stats(ex);
      case "/sim/stats/reset" -> {
        if (allowed(ex, method, "POST", ErrorShape.OPENAI)) {
          control.reset(ex);
        }
      }
      case "/sim/fault" -> control.fault(ex);
      case "/health" -> control.health(ex);
      default -> {
        if (!path.startsWith("/v1/models/")) {
          ctx.wire.error(
              ex,
              ErrorShape.OPENAI,
              404,
              "Unknown path " + path + " (SIMULATED upstream)",
              null,
              "not_found");
        } else if (allowed(ex, method, "GET", ErrorShape.OPENAI)) {
          models.one(ex, path.substring("/v1/models/".length()));
        }
      }
    }
  }

  private boolean allowed(HttpExchange ex, String method, String expected, ErrorShape shape)
      throws IOException {
    if (method.equals(expected)) {
      return true;
    }
    ctx.wire.error(
        ex,
        shape,
        405,
        "Method " + method + " is not allowed; use " + expected,
        null,
        "method_not_allowed");
    return false;
  }
}

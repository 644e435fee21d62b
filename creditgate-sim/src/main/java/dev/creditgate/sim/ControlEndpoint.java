package dev.creditgate.sim;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Iterator;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The simulator's own endpoints: {@code /sim/stats}, {@code /sim/stats/reset}, {@code /sim/fault}
 * and {@code /health}. Not counted in the stats, and never faulted.
 */
final class ControlEndpoint {

  /** Largest {@code /sim/fault} body read. */
  private static final int MAX_FAULT_BODY = 4096;

  private final SimContext ctx;
  private final Supplier<Fault> currentFault;
  private final Consumer<Fault> setFault;

  ControlEndpoint(SimContext ctx, Supplier<Fault> currentFault, Consumer<Fault> setFault) {
    this.ctx = ctx;
    this.currentFault = currentFault;
    this.setFault = setFault;
  }

  void stats(HttpExchange ex) throws IOException {
    ctx.wire.json(ex, 200, statsJson());
  }

  void reset(HttpExchange ex) throws IOException {
    ctx.stats.reset();
    ctx.wire.json(ex, 200, statsJson());
  }

  void health(HttpExchange ex) throws IOException {
    ObjectNode health = ctx.mapper.createObjectNode();
    health.put("status", "ok");
    health.put("simulator", true);
    ctx.wire.json(ex, 200, health);
  }

  /**
   * {@code GET} reads the fault; {@code POST} sets it from {@code {"status":429}}, {@code
   * {"stall_ms":5000}}, {@code {"abort_after_chunks":3}} or {@code {}} (clear). Refusing
   * connections is not offered here: it would close this very endpoint.
   */
  void fault(HttpExchange ex) throws IOException {
    if (ex.getRequestMethod().equals("POST")) {
      Fault fault;
      try {
        fault = parseFault(ex);
      } catch (BadRequest e) {
        ctx.wire.error(ex, ErrorShape.OPENAI, 400, e.getMessage(), e.param, e.code);
        return;
      }
      setFault.accept(fault);
    }
    ObjectNode body = ctx.mapper.createObjectNode();
    body.put("fault", currentFault.get().spec());
    ctx.wire.json(ex, 200, body);
  }

  private Fault parseFault(HttpExchange ex) throws IOException, BadRequest {
    byte[] bytes;
    try (InputStream in = ex.getRequestBody()) {
      bytes = in.readNBytes(MAX_FAULT_BODY);
    }
    JsonNode root;
    try {
      root = bytes.length == 0 ? ctx.mapper.createObjectNode() : ctx.mapper.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new BadRequest("the fault must be a JSON object", null, "invalid_json");
    }
    if (root == null || !root.isObject() || root.size() > 1) {
      throw new BadRequest(
          "the fault must be {}, {\"status\":N}, {\"stall_ms\":N} or {\"abort_after_chunks\":N},"
              + " but was "
              + RequestFields.abbreviate(root),
          null,
          "invalid_fault");
    }
    Iterator<String> names = root.fieldNames();
    if (!names.hasNext()) {
      return Fault.none();
    }
    String name = names.next();
    JsonNode value = root.get(name);
    if (name.equals("refuse")) {
      throw new BadRequest(
          "refusing connections would close this endpoint too; use"
              + " SimulatedUpstream.fault(Fault.refuseConnections()) or --fault refuse",
          name,
          "invalid_fault");
    }
    if (!value.isIntegralNumber() || !value.canConvertToLong()) {
      throw new BadRequest(
          name + " must be an integer, but was " + RequestFields.abbreviate(value),
          name,
          "invalid_fault");
    }
    try {
      return switch (name) {
        case "status" -> Fault.status(value.asInt());
        case "stall_ms" -> Fault.stallBeforeFirstByte(Duration.ofMillis(value.asLong()));
        case "abort_after_chunks" -> Fault.abortAfterChunks(value.asInt());
        default ->
            throw new BadRequest(
                "unknown fault '" + name + "'; use status, stall_ms or abort_after_chunks",
                name,
                "invalid_fault");
      };
    } catch (IllegalArgumentException e) {
      throw new BadRequest(e.getMessage(), name, "invalid_fault");
    }
  }

  private ObjectNode statsJson() {
    SimulatorStats s = ctx.stats.snapshot();
    ObjectNode node = ctx.mapper.createObjectNode();
    node.put("simulator", SimContext.FINGERPRINT);
    node.put("chat_requests", s.chatRequests());
    node.put("completed_responses", s.completedResponses());
    node.put("streamed_responses", s.streamedResponses());
    node.put("rejected_requests", s.rejectedRequests());
    node.put("injected_failures", s.injectedFailures());
    node.put("aborted_responses", s.abortedResponses());
    node.put("usage_reports", s.usageReports());
    node.put("prompt_tokens", s.promptTokens());
    node.put("completion_tokens", s.completionTokens());
    node.put("cached_tokens", s.cachedTokens());
    node.put("reasoning_tokens", s.reasoningTokens());
    node.put("responses_requests", s.responsesRequests());
    node.put("embeddings_requests", s.embeddingsRequests());
    node.put("messages_requests", s.messagesRequests());
    node.put("injected_faults", s.injectedFaults());
    node.put("cache_creation_tokens", s.cacheCreationTokens());
    node.put("fault", currentFault.get().spec());
    return node;
  }
}

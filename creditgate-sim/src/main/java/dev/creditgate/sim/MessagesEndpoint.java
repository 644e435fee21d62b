package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;

/**
 * {@code POST /v1/messages}, Anthropic's Messages API: a {@code message} with one text block, or
 * the named event stream ({@code message_start} ... {@code message_stop}). Input tokens follow the
 * chat rule over the system prompt and the messages; as Anthropic reports them, {@code
 * input_tokens} excludes the cache read and cache creation tokens, and the three add up to the
 * counted prompt.
 */
final class MessagesEndpoint implements ProtocolEndpoint {

  static final String VERSION_HEADER = "anthropic-version";

  private final SimContext ctx;
  private final Intake intake;
  private final Intake.Steps<MessagesRequest> steps;
  private final AnthropicShapes shapes;

  MessagesEndpoint(SimContext ctx, Intake intake) {
    this.ctx = ctx;
    this.intake = intake;
    this.steps =
        new Intake.Steps<>(
            shape(),
            this::admit,
            this::parse,
            root -> RequestFields.text(root.get("metadata"), "user_id"));
    this.shapes = new AnthropicShapes(ctx.mapper);
  }

  /** Anthropic's key check, then its required {@code anthropic-version} header. */
  private boolean admit(HttpExchange ex) throws IOException {
    if (!ctx.anthropicAuthorized(ex)) {
      ctx.wire.reject(ex, shape(), 401, "invalid x-api-key (SIMULATED upstream)", null, null);
      return false;
    }
    if (ex.getRequestHeaders().getFirst(VERSION_HEADER) == null) {
      ctx.wire.reject(ex, shape(), 400, VERSION_HEADER + ": header is required", null, null);
      return false;
    }
    return true;
  }

  @Override
  public ErrorShape shape() {
    return ErrorShape.ANTHROPIC;
  }

  /**
   * The parts of a Messages request that shape the answer.
   *
   * @param counted the system prompt and the messages, for counting and seeding
   */
  record MessagesRequest(String model, int maxTokens, ArrayNode counted, boolean stream) {}

  MessagesRequest parse(JsonNode root) throws BadRequest {
    JsonNode model = root.get("model");
    if (model == null || model.isNull()) {
      throw invalid("model: Field required");
    }
    if (!model.isTextual() || model.asText().isBlank()) {
      throw invalid(
          "model: must be a non-empty string, but was " + RequestFields.abbreviate(model));
    }
    JsonNode maxTokens = root.get("max_tokens");
    if (maxTokens == null || maxTokens.isNull()) {
      throw invalid("max_tokens: Field required");
    }
    if (!maxTokens.isIntegralNumber() || !maxTokens.canConvertToInt() || maxTokens.asInt() < 1) {
      throw invalid(
          "max_tokens: must be a positive integer, but was " + RequestFields.abbreviate(maxTokens));
    }
    ArrayNode counted = ctx.mapper.createArrayNode();
    JsonNode system = root.get("system");
    if (system != null && !system.isNull()) {
      if (system.isArray()) {
        checkBlocks(system, "system", true);
      } else if (!system.isTextual()) {
        throw invalid(
            "system: must be a string or an array of text blocks, but was "
                + RequestFields.abbreviate(system));
      }
      counted.addObject().put("role", "system").set("content", system);
    }
    JsonNode messages = root.get("messages");
    if (messages == null || messages.isNull()) {
      throw invalid("messages: Field required");
    }
    if (!messages.isArray() || messages.isEmpty()) {
      throw invalid(
          "messages: must be a non-empty array, but was " + RequestFields.abbreviate(messages));
    }
    for (int i = 0; i < messages.size(); i++) {
      JsonNode message = messages.get(i);
      String path = "messages." + i;
      if (!message.isObject()) {
        throw invalid(path + ": must be an object, but was " + RequestFields.abbreviate(message));
      }
      String role = message.path("role").asText("");
      if (!message.path("role").isTextual() || !(role.equals("user") || role.equals("assistant"))) {
        throw invalid(
            path
                + ".role: must be 'user' or 'assistant', but was "
                + RequestFields.abbreviate(message.get("role")));
      }
      JsonNode content = message.get("content");
      if (content == null || content.isNull()) {
        throw invalid(path + ".content: Field required");
      }
      if (content.isArray()) {
        checkBlocks(content, path + ".content", false);
      } else if (!content.isTextual()) {
        throw invalid(
            path
                + ".content: must be a string or an array of content blocks, but was "
                + RequestFields.abbreviate(content));
      }
      counted.add(message);
    }
    return new MessagesRequest(
        model.asText(), maxTokens.asInt(), counted, RequestFields.bool(root, "stream"));
  }

  private static void checkBlocks(JsonNode blocks, String path, boolean textOnly)
      throws BadRequest {
    for (int i = 0; i < blocks.size(); i++) {
      JsonNode block = blocks.get(i);
      String at = path + "." + i;
      if (!block.isObject() || !block.path("type").isTextual()) {
        throw invalid(
            at
                + ": must be a content block with a type, but was "
                + RequestFields.abbreviate(block));
      }
      boolean text = block.get("type").asText().equals("text");
      if (textOnly && !text) {
        throw invalid(at + ".type: must be 'text', but was " + block.get("type"));
      }
      if (text && !block.path("text").isTextual()) {
        throw invalid(at + ".text: Field required");
      }
    }
  }

  private static BadRequest invalid(String message) {
    return new BadRequest(message, null, "invalid_request_error");
  }

  @Override
  public void handle(HttpExchange ex, Fault fault) throws IOException, InterruptedException {
    ctx.stats.messagesRequests.increment();
    Intake.Taken<MessagesRequest> taken = intake.take(ex, fault, steps);
    if (taken == null) {
      return;
    }
    MessagesRequest request = taken.request();
    SimHeaders headers = taken.headers();
    SimContext.Generated generated =
        ctx.generate(request.model(), request.counted(), request.maxTokens(), headers);
    SimulatedText.Answer answer = generated.answer();
    int prompt = generated.promptTokens();
    int read = Math.min(Math.max(headers.cachedTokens(), 0), prompt);
    int created = Math.min(headers.cacheCreationTokens(), prompt - read);
    Usage usage = new Usage(prompt, answer.outputTokens(), read, answer.reasoningTokens(), created);
    String id = ctx.nextId("msg_sim-", generated.seed());
    String requestId = "req_sim-" + id.substring("msg_sim-".length());
    long latency = taken.latencyNanos();
    Reply reply = new Reply(request, id, requestId, answer, headers.noUsage() ? null : usage);
    if (request.stream()) {
      stream(ex, reply, latency, FaultGate.abortAfter(headers, fault));
    } else {
      Pacing.sleepNanos(latency + ctx.pacing.tokenNanos(answer.outputTokens()));
      ObjectNode message = shapes.message(id, request.model(), stopReason(answer), reply.usage());
      ((ArrayNode) message.get("content"))
          .addObject()
          .put("type", "text")
          .put("text", answer.text());
      ctx.wire.answer(
          ex, message, "request-id", requestId, reply.usage(), FaultGate.abortsPlain(fault));
    }
  }

  /** One answer being written; {@code usage} is null when it reports none. */
  private record Reply(
      MessagesRequest request,
      String id,
      String requestId,
      SimulatedText.Answer answer,
      Usage usage) {}

  private static String stopReason(SimulatedText.Answer answer) {
    return answer.cut() ? "max_tokens" : "end_turn";
  }

  private void stream(HttpExchange ex, Reply reply, long latency, int abortAfter)
      throws IOException, InterruptedException {
    Pacing.sleepNanos(latency);
    OutputStream out = ctx.wire.openStream(ex, "request-id", reply.requestId());
    long start = System.nanoTime();
    SimulatedText.Answer answer = reply.answer();
    Usage usage = reply.usage();
    ObjectNode messageStart = shapes.event("message_start");
    ObjectNode message = shapes.message(reply.id(), reply.request().model(), null, null);
    if (usage != null) {
      // As the real API does, message_start reports the input and one output token so far.
      message.set("usage", shapes.usage(usage, 1));
    }
    messageStart.set("message", message);
    ctx.wire.event(out, "message_start", messageStart);
    ObjectNode blockStart = shapes.event("content_block_start").put("index", 0);
    blockStart.putObject("content_block").put("type", "text").put("text", "");
    ctx.wire.event(out, "content_block_start", blockStart);
    ctx.wire.event(out, "ping", shapes.event("ping"));

    int words = answer.words().length;
    for (int i = 0; i < words; i++) {
      if (i == abortAfter) {
        throw new AbortResponse("aborted after " + i + " deltas");
      }
      Pacing.sleepUntil(start + ctx.pacing.tokenNanos(answer.reasoningTokens() + i + 1));
      ObjectNode delta = shapes.event("content_block_delta").put("index", 0);
      delta.putObject("delta").put("type", "text_delta").put("text", answer.delta(i));
      ctx.wire.event(out, "content_block_delta", delta);
    }
    if (abortAfter >= words) {
      throw new AbortResponse("aborted before the final events");
    }
    ctx.wire.event(out, "content_block_stop", shapes.event("content_block_stop").put("index", 0));
    ObjectNode messageDelta = shapes.event("message_delta");
    messageDelta.putObject("delta").put("stop_reason", stopReason(answer)).putNull("stop_sequence");
    if (usage != null) {
      messageDelta.putObject("usage").put("output_tokens", usage.completionTokens());
    }
    ctx.wire.usageEvent(out, "message_delta", messageDelta, usage);
    ctx.wire.event(out, "message_stop", shapes.event("message_stop"));
    ctx.wire.finishStream(out, new byte[0]);
  }
}

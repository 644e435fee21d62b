package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;

/**
 * {@code POST /v1/responses}, OpenAI's Responses API: a {@code response} object with one {@code
 * message} output item, or typed events ({@code event: response.created} ... {@code
 * response.completed}) with a {@code sequence_number} each and no {@code [DONE]}. Input tokens
 * follow the chat rule, {@code instructions} counting as a system message and each input item as a
 * message.
 */
final class ResponsesEndpoint implements ProtocolEndpoint {

  private final SimContext ctx;
  private final Intake intake;
  private final Intake.Steps<ResponsesRequest> steps;
  private final ResponseShapes shapes;

  ResponsesEndpoint(SimContext ctx, Intake intake) {
    this.ctx = ctx;
    this.intake = intake;
    this.steps =
        new Intake.Steps<>(
            shape(), ctx::admitBearer, this::parse, root -> RequestFields.text(root, "user"));
    this.shapes = new ResponseShapes(ctx.mapper);
  }

  @Override
  public ErrorShape shape() {
    return ErrorShape.OPENAI;
  }

  /**
   * The parts of a Responses request that shape the answer.
   *
   * @param messages the instructions and input items as chat-like messages, for counting
   */
  record ResponsesRequest(
      String model, ArrayNode messages, int maxOutputTokens, boolean stream, JsonNode root) {}

  ResponsesRequest parse(JsonNode root) throws BadRequest {
    String model = RequestFields.model(root);
    ArrayNode messages = ctx.mapper.createArrayNode();
    JsonNode instructions = root.get("instructions");
    if (instructions != null && !instructions.isNull()) {
      if (!instructions.isTextual()) {
        throw new BadRequest(
            "instructions must be a string, but was " + RequestFields.abbreviate(instructions),
            "instructions",
            "invalid_type");
      }
      messages.addObject().put("role", "system").put("content", instructions.asText());
    }
    JsonNode input = root.get("input");
    if (input == null || input.isNull()) {
      throw new BadRequest(
          "you must provide an input parameter", "input", "missing_required_parameter");
    }
    if (input.isTextual()) {
      messages.addObject().put("role", "user").put("content", input.asText());
    } else if (input.isArray() && !input.isEmpty()) {
      for (int i = 0; i < input.size(); i++) {
        messages.add(inputItem(input.get(i), i));
      }
    } else {
      throw new BadRequest(
          "input must be a string or a non-empty array of input items, but was "
              + RequestFields.abbreviate(input),
          "input",
          "invalid_type");
    }
    return new ResponsesRequest(
        model,
        messages,
        RequestFields.positive(root, "max_output_tokens"),
        RequestFields.bool(root, "stream"),
        root);
  }

  private static JsonNode inputItem(JsonNode item, int i) throws BadRequest {
    String param = "input[" + i + "]";
    if (!item.isObject()) {
      throw new BadRequest(
          param + " must be an input item object, but was " + RequestFields.abbreviate(item),
          param,
          "invalid_type");
    }
    JsonNode role = item.get("role");
    if (role != null && !role.isTextual()) {
      throw new BadRequest(
          param + ".role must be a string, but was " + RequestFields.abbreviate(role),
          param + ".role",
          "invalid_type");
    }
    JsonNode content = item.get("content");
    if (content != null && !content.isNull() && !content.isTextual() && !content.isArray()) {
      throw new BadRequest(
          param
              + ".content must be a string or an array of content parts, but was "
              + RequestFields.abbreviate(content),
          param + ".content",
          "invalid_type");
    }
    return item;
  }

  @Override
  public void handle(HttpExchange ex, Fault fault) throws IOException, InterruptedException {
    ctx.stats.responsesRequests.increment();
    Intake.Taken<ResponsesRequest> taken = intake.take(ex, fault, steps);
    if (taken == null) {
      return;
    }
    ResponsesRequest request = taken.request();
    SimHeaders headers = taken.headers();
    SimContext.Generated generated =
        ctx.generate(request.model(), request.messages(), request.maxOutputTokens(), headers);
    long seed = generated.seed();
    SimulatedText.Answer answer = generated.answer();
    Usage usage = generated.openAiUsage(headers);
    String id = ctx.nextId("resp_sim-", seed);
    long latency = taken.latencyNanos();
    Answering a =
        new Answering(
            request,
            id,
            "msg_sim-" + id.substring("resp_sim-".length()),
            ctx.now(),
            answer,
            headers.noUsage() ? null : usage);
    if (request.stream()) {
      stream(ex, a, latency, FaultGate.abortAfter(headers, fault));
    } else {
      Pacing.sleepNanos(latency + ctx.pacing.tokenNanos(answer.outputTokens()));
      ctx.wire.answer(
          ex, finalResponse(a), "x-request-id", id, a.usage(), FaultGate.abortsPlain(fault));
    }
  }

  /** One answer being written; {@code usage} is null when it reports none. */
  private record Answering(
      ResponsesRequest request,
      String id,
      String itemId,
      long createdAt,
      SimulatedText.Answer answer,
      Usage usage) {

    String status() {
      return answer.cut() ? ResponseShapes.INCOMPLETE : ResponseShapes.COMPLETED;
    }
  }

  private ObjectNode finalResponse(Answering a) {
    ArrayNode output = ctx.mapper.createArrayNode();
    output.add(shapes.message(a.itemId(), a.status(), shapes.outputText(a.answer().text())));
    return shapes.response(
        a.id(), a.createdAt(), a.status(), a.request().root(), output, a.usage());
  }

  private void stream(HttpExchange ex, Answering a, long latency, int abortAfter)
      throws IOException, InterruptedException {
    Pacing.sleepNanos(latency);
    OutputStream out = ctx.wire.openStream(ex, "x-request-id", a.id());
    long start = System.nanoTime();
    Events events = new Events(out);
    ObjectNode pending =
        shapes.response(
            a.id(),
            a.createdAt(),
            ResponseShapes.IN_PROGRESS,
            a.request().root(),
            ctx.mapper.createArrayNode(),
            null);
    events.send("response.created", events.node().set("response", pending));
    events.send("response.in_progress", events.node().set("response", pending));
    ObjectNode added = events.node().put("output_index", 0);
    added.set("item", shapes.message(a.itemId(), ResponseShapes.IN_PROGRESS, null));
    events.send("response.output_item.added", added);
    events.send("response.content_part.added", part(events, a).set("part", shapes.outputText("")));

    SimulatedText.Answer answer = a.answer();
    int words = answer.words().length;
    for (int i = 0; i < words; i++) {
      if (i == abortAfter) {
        throw new AbortResponse("aborted after " + i + " deltas");
      }
      Pacing.sleepUntil(start + ctx.pacing.tokenNanos(answer.reasoningTokens() + i + 1));
      ObjectNode delta = part(events, a).put("delta", answer.delta(i));
      delta.putArray("logprobs");
      events.send("response.output_text.delta", delta);
    }
    if (abortAfter >= words) {
      throw new AbortResponse("aborted before the final events");
    }
    ObjectNode textDone = part(events, a).put("text", answer.text());
    textDone.putArray("logprobs");
    events.send("response.output_text.done", textDone);
    ObjectNode fullPart = shapes.outputText(answer.text());
    events.send("response.content_part.done", part(events, a).set("part", fullPart));
    ObjectNode itemDone = events.node().put("output_index", 0);
    itemDone.set("item", shapes.message(a.itemId(), a.status(), fullPart));
    events.send("response.output_item.done", itemDone);
    String last = a.answer().cut() ? "response.incomplete" : "response.completed";
    ObjectNode done = events.node().set("response", finalResponse(a));
    events.sendUsage(last, done, a.usage());
    ctx.wire.finishStream(out, new byte[0]);
  }

  private ObjectNode part(Events events, Answering a) {
    return events.node().put("item_id", a.itemId()).put("output_index", 0).put("content_index", 0);
  }

  /** Typed events numbered in the order they are sent. */
  private final class Events {
    private final OutputStream out;
    private int sequence;

    Events(OutputStream out) {
      this.out = out;
    }

    ObjectNode node() {
      return ctx.mapper.createObjectNode();
    }

    void send(String type, ObjectNode fields) throws IOException {
      ctx.wire.event(out, type, typed(type, fields));
    }

    void sendUsage(String type, ObjectNode fields, Usage usage) throws IOException {
      ctx.wire.usageEvent(out, type, typed(type, fields), usage);
    }

    private ObjectNode typed(String type, ObjectNode fields) {
      ObjectNode event = node().put("type", type);
      event.setAll(fields);
      event.put("sequence_number", sequence++);
      return event;
    }
  }
}

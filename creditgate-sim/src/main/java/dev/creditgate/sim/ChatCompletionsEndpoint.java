package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * {@code POST /v1/chat/completions}: plain answers and {@code data:} chunk streams ending with
 * {@code [DONE]}, with a final usage chunk when {@code stream_options.include_usage} is true.
 */
final class ChatCompletionsEndpoint implements ProtocolEndpoint {

  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

  private final SimContext ctx;
  private final Intake intake;
  private final Intake.Steps<ChatRequest> steps;

  ChatCompletionsEndpoint(SimContext ctx, Intake intake) {
    this.ctx = ctx;
    this.intake = intake;
    this.steps =
        new Intake.Steps<>(
            shape(),
            ctx::admitBearer,
            ChatRequest::parse,
            root -> RequestFields.text(root, "user"));
  }

  @Override
  public ErrorShape shape() {
    return ErrorShape.OPENAI;
  }

  /** The parts of a chat request that shape the answer. */
  record ChatRequest(
      String model, JsonNode messages, boolean stream, boolean includeUsage, int maxTokens) {

    static ChatRequest parse(JsonNode root) throws BadRequest {
      String model = RequestFields.model(root);
      JsonNode messages = root.get("messages");
      if (messages == null || messages.isNull()) {
        throw new BadRequest(
            "you must provide a messages parameter", "messages", "missing_required_parameter");
      }
      if (!messages.isArray() || messages.isEmpty()) {
        throw new BadRequest(
            "messages must be a non-empty array, but was " + RequestFields.abbreviate(messages),
            "messages",
            "invalid_type");
      }
      for (int i = 0; i < messages.size(); i++) {
        JsonNode message = messages.get(i);
        if (!message.isObject() || !message.path("role").isTextual()) {
          throw new BadRequest(
              "messages["
                  + i
                  + "] must be an object with a string role, but was "
                  + RequestFields.abbreviate(message),
              "messages[" + i + "]",
              "invalid_type");
        }
        JsonNode content = message.get("content");
        if (content != null && !content.isNull() && !content.isTextual() && !content.isArray()) {
          throw new BadRequest(
              "messages["
                  + i
                  + "].content must be a string or an array, but was "
                  + RequestFields.abbreviate(content),
              "messages[" + i + "].content",
              "invalid_type");
        }
      }
      boolean stream = RequestFields.bool(root, "stream");
      boolean includeUsage = false;
      JsonNode options = root.get("stream_options");
      if (options != null && !options.isNull()) {
        if (!options.isObject()) {
          throw new BadRequest(
              "stream_options must be an object, but was " + RequestFields.abbreviate(options),
              "stream_options",
              "invalid_type");
        }
        includeUsage = RequestFields.bool(options, "include_usage");
      }
      int maxTokens =
          Math.min(
              RequestFields.positive(root, "max_tokens"),
              RequestFields.positive(root, "max_completion_tokens"));
      return new ChatRequest(model, messages, stream, includeUsage, maxTokens);
    }
  }

  @Override
  public void handle(HttpExchange ex, Fault fault) throws IOException, InterruptedException {
    ctx.stats.chatRequests.increment();
    Intake.Taken<ChatRequest> taken = intake.take(ex, fault, steps);
    if (taken == null) {
      return;
    }
    ChatRequest request = taken.request();
    SimHeaders headers = taken.headers();
    SimContext.Generated generated =
        ctx.generate(request.model(), request.messages(), request.maxTokens(), headers);
    long seed = generated.seed();
    SimulatedText.Answer answer = generated.answer();
    Usage usage = generated.openAiUsage(headers);
    String id = ctx.nextId("chatcmpl-sim-", seed);
    long created = ctx.now();
    long latency = taken.latencyNanos();
    Chat chat = new Chat(request, id, created, answer, headers.noUsage() ? null : usage);
    if (request.stream()) {
      stream(ex, chat, latency, FaultGate.abortAfter(headers, fault));
    } else {
      complete(ex, chat, latency, FaultGate.abortsPlain(fault));
    }
  }

  /** One answer being written; {@code usage} is null when it reports none. */
  private record Chat(
      ChatRequest request, String id, long created, SimulatedText.Answer answer, Usage usage) {}

  private void complete(HttpExchange ex, Chat chat, long latency, boolean abortHalf)
      throws IOException, InterruptedException {
    // The whole answer is "generated" before the first byte, as a real non-streaming call.
    Pacing.sleepNanos(latency + ctx.pacing.tokenNanos(chat.answer().outputTokens()));
    ObjectNode response = envelope(chat, "chat.completion");
    ObjectNode choice = response.putArray("choices").addObject();
    choice.put("index", 0);
    ObjectNode message = choice.putObject("message");
    message.put("role", "assistant");
    message.put("content", chat.answer().text());
    message.putNull("refusal");
    choice.putNull("logprobs");
    choice.put("finish_reason", finishReason(chat));
    if (chat.usage() != null) {
      response.set("usage", usageJson(chat.usage()));
    }
    ctx.wire.answer(ex, response, "x-request-id", chat.id(), chat.usage(), abortHalf);
  }

  private void stream(HttpExchange ex, Chat chat, long latency, int abortAfter)
      throws IOException, InterruptedException {
    Pacing.sleepNanos(latency);
    OutputStream out = ctx.wire.openStream(ex, "x-request-id", chat.id());
    long start = System.nanoTime();

    ObjectNode first = chunk(chat);
    ObjectNode firstDelta = ((ObjectNode) first.withArray("choices").get(0)).putObject("delta");
    firstDelta.put("role", "assistant");
    firstDelta.put("content", "");
    ctx.wire.data(out, first);

    SimulatedText.Answer answer = chat.answer();
    int words = answer.words().length;
    for (int i = 0; i < words; i++) {
      if (i == abortAfter) {
        throw new AbortResponse("aborted after " + i + " chunks");
      }
      Pacing.sleepUntil(start + ctx.pacing.tokenNanos(answer.reasoningTokens() + i + 1));
      ObjectNode chunk = chunk(chat);
      ((ObjectNode) chunk.withArray("choices").get(0))
          .putObject("delta")
          .put("content", answer.delta(i));
      ctx.wire.data(out, chunk);
    }
    if (abortAfter >= words) {
      throw new AbortResponse("aborted before the final chunk");
    }
    ObjectNode last = chunk(chat);
    ObjectNode lastChoice = (ObjectNode) last.withArray("choices").get(0);
    lastChoice.putObject("delta");
    lastChoice.put("finish_reason", finishReason(chat));
    ctx.wire.data(out, last);

    if (chat.request().includeUsage() && chat.usage() != null) {
      ObjectNode usageChunk = envelope(chat, "chat.completion.chunk");
      usageChunk.putArray("choices");
      usageChunk.set("usage", usageJson(chat.usage()));
      ctx.wire.usageEvent(out, null, usageChunk, chat.usage());
    }
    ctx.wire.finishStream(out, DONE);
  }

  private static String finishReason(Chat chat) {
    return chat.answer().cut() ? "length" : "stop";
  }

  private ObjectNode chunk(Chat chat) {
    ObjectNode chunk = envelope(chat, "chat.completion.chunk");
    ObjectNode choice = chunk.putArray("choices").addObject();
    choice.put("index", 0);
    choice.putNull("logprobs");
    choice.putNull("finish_reason");
    if (chat.request().includeUsage()) {
      chunk.putNull("usage");
    }
    return chunk;
  }

  private ObjectNode envelope(Chat chat, String object) {
    ObjectNode node = ctx.mapper.createObjectNode();
    node.put("id", chat.id());
    node.put("object", object);
    node.put("created", chat.created());
    node.put("model", chat.request().model());
    node.put("system_fingerprint", SimContext.FINGERPRINT);
    return node;
  }

  private ObjectNode usageJson(Usage usage) {
    ObjectNode node = ctx.mapper.createObjectNode();
    node.put("prompt_tokens", usage.promptTokens());
    node.put("completion_tokens", usage.completionTokens());
    node.put("total_tokens", usage.totalTokens());
    ObjectNode promptDetails = node.putObject("prompt_tokens_details");
    promptDetails.put("cached_tokens", usage.cachedTokens());
    promptDetails.put("audio_tokens", 0);
    ObjectNode completionDetails = node.putObject("completion_tokens_details");
    completionDetails.put("reasoning_tokens", usage.reasoningTokens());
    completionDetails.put("audio_tokens", 0);
    completionDetails.put("accepted_prediction_tokens", 0);
    completionDetails.put("rejected_prediction_tokens", 0);
    return node;
  }
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.Protocol;
import dev.creditgate.gateway.internal.TokenEstimator.Tokenizer;
import dev.creditgate.pricing.Usage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.UnaryOperator;

/**
 * {@code POST /v1/chat/completions}, OpenAI's Chat Completions API: output capped by {@code
 * max_completion_tokens} or {@code max_tokens} per choice, {@code n} choices, usage in {@code
 * usage} (a stream's in a last chunk the gateway always asks for).
 */
final class ChatApi implements LlmApi {

  static final ChatApi INSTANCE = new ChatApi();

  private ChatApi() {}

  @Override
  public String name() {
    return "chat_completions";
  }

  @Override
  public String operation() {
    return "chat";
  }

  @Override
  public Protocol protocol() {
    return Protocol.OPENAI;
  }

  @Override
  public String upstreamPath() {
    return "/chat/completions";
  }

  @Override
  public ObjectNode validate(ObjectNode request, CallOptions options) {
    return ChatRequestRules.validate(request, options.maxChoices(), options.maxTopLogprobs());
  }

  @Override
  public boolean stream(ObjectNode request) {
    return request.path("stream").asBoolean(false);
  }

  @Override
  public long outputCap(ObjectNode request) {
    return Math.max(
        request.path("max_completion_tokens").asLong(0), request.path("max_tokens").asLong(0));
  }

  @Override
  public String outputCapField() {
    return "max_completion_tokens";
  }

  @Override
  public int choices(ObjectNode request) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, request.path("n").asLong(1)));
  }

  /**
   * Sets the cap in the field the request uses (both when it uses both), or, when it uses none, in
   * {@code max_completion_tokens} for an OpenAI route and {@code max_tokens} for others.
   */
  @Override
  public void setOutputCap(ObjectNode request, long cap, ModelRoute route) {
    boolean both = request.hasNonNull("max_tokens") && request.hasNonNull("max_completion_tokens");
    if (request.hasNonNull("max_completion_tokens") || both) {
      request.put("max_completion_tokens", cap);
    }
    if (request.hasNonNull("max_tokens") || both) {
      request.put("max_tokens", cap);
    }
    if (!request.hasNonNull("max_tokens") && !request.hasNonNull("max_completion_tokens")) {
      request.put("openai".equals(route.provider()) ? "max_completion_tokens" : "max_tokens", cap);
    }
  }

  @Override
  public void clearOutputCap(ObjectNode request) {
    request.remove("max_completion_tokens");
    request.remove("max_tokens");
  }

  @Override
  public long inputTokens(
      TokenEstimator tokens, ObjectNode request, Tokenizer tokenizer, long bytes) {
    return tokens.inputTokens(request, tokenizer, bytes);
  }

  @Override
  public Usage estimate(
      TokenEstimator tokens, ObjectNode request, String output, long outputCharsDropped) {
    return tokens.estimate(request, output, outputCharsDropped);
  }

  /** A stream always asks for usage in its last chunk, so that it can be charged. */
  @Override
  public void prepareUpstream(ObjectNode request, boolean stream) {
    if (stream) {
      ObjectNode options =
          request.get("stream_options") instanceof ObjectNode o
              ? o
              : request.putObject("stream_options");
      options.put("include_usage", true);
    }
  }

  @Override
  public Map<String, String> upstreamHeaders(String apiKey, UnaryOperator<String> clientHeader) {
    return bearer(apiKey);
  }

  /** An OpenAI upstream's headers: its key as a bearer token. */
  static Map<String, String> bearer(String apiKey) {
    return apiKey.isEmpty() ? Map.of() : Map.of("Authorization", "Bearer " + apiKey);
  }

  @Override
  public UsageParser.Report usage(JsonNode answer) {
    return UsageParser.report(answer);
  }

  /**
   * Each choice's message content, reasoning, refusal, and the names and arguments of its tool and
   * function calls.
   */
  @Override
  public List<String> outputTexts(JsonNode answer) {
    List<String> texts = new ArrayList<>(2);
    for (JsonNode choice : answer.path("choices")) {
      JsonNode message = choice.path("message");
      for (String field : new String[] {"content", "reasoning_content", "refusal"}) {
        Json.addText(message.path(field), texts);
      }
      for (JsonNode call : message.path("tool_calls")) {
        function(call.path("function"), texts);
      }
      function(message.path("function_call"), texts);
    }
    return texts;
  }

  private static void function(JsonNode function, List<String> texts) {
    Json.addText(function.path("name"), texts);
    Json.addText(function.path("arguments"), texts);
  }

  @Override
  public byte[] withCharge(
      byte[] answer, JsonNode parsed, Usage charged, boolean reported, OptionalLong credits) {
    return ChargedUsage.plain(answer, parsed, charged, reported, credits);
  }

  @Override
  public AnswerStream newStream(CallExchange x, long budget) {
    return new ChatStream(x.clientWantsUsage, budget);
  }
}

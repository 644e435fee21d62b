package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
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
 * {@code POST /v1/responses}, OpenAI's Responses API: input as a string or a list of items, output
 * capped by {@code max_output_tokens}, usage in {@code usage} ({@code input_tokens}, {@code
 * output_tokens} and their details), a stream's in its closing {@code response.completed} (or
 * {@code response.incomplete}, {@code response.failed}) event.
 *
 * <p>Stateful features are passed to the upstream as they come: {@code store}, {@code
 * previous_response_id} and {@code conversation} make the provider add stored turns to the input,
 * which the gateway cannot count before the call; such a call is held for the input it sends and
 * charged what the upstream reports.
 */
final class ResponsesApi implements LlmApi {

  static final ResponsesApi INSTANCE = new ResponsesApi();

  static final UsageParser.Shape USAGE =
      new UsageParser.Shape(
          "input_tokens",
          "output_tokens",
          "input_tokens_details",
          "cached_tokens",
          "output_tokens_details",
          "reasoning_tokens");

  private ResponsesApi() {}

  @Override
  public String name() {
    return "responses";
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
    return "/responses";
  }

  @Override
  public ObjectNode validate(ObjectNode request, CallOptions options) {
    RequestChecks.optionalString(request, "model");
    JsonNode input = request.get("input");
    if (RequestChecks.present(input)) {
      if (!input.isTextual() && !input.isArray()) {
        throw ApiError.invalidRequest("'input' must be a string or an array", "input");
      }
      for (int i = 0; i < input.size(); i++) {
        if (!input.get(i).isObject()) {
          throw ApiError.invalidRequest("'input[" + i + "]' must be an object", "input[" + i + "]");
        }
      }
    } else if (!RequestChecks.present(request.get("previous_response_id"))
        && !RequestChecks.present(request.get("conversation"))
        && !RequestChecks.present(request.get("prompt"))) {
      throw ApiError.invalidRequest("'input' is required", "input");
    }
    RequestChecks.optionalString(request, "instructions");
    RequestChecks.optionalBoolean(request, "stream");
    RequestChecks.outputCap(request, "max_output_tokens");
    RequestChecks.positiveIfPresent(request, "max_output_tokens");
    if (request.path("background").asBoolean(false)) {
      // The answer would come later, from another endpoint, which the gateway does not meter.
      throw ApiError.invalidRequest(
          "'background' responses are not served through the gateway; send no 'background'",
          "background");
    }
    return request;
  }

  @Override
  public boolean stream(ObjectNode request) {
    return request.path("stream").asBoolean(false);
  }

  @Override
  public long outputCap(ObjectNode request) {
    return request.path("max_output_tokens").asLong(0);
  }

  @Override
  public String outputCapField() {
    return "max_output_tokens";
  }

  @Override
  public void setOutputCap(ObjectNode request, long cap, ModelRoute route) {
    request.put("max_output_tokens", cap);
  }

  @Override
  public void clearOutputCap(ObjectNode request) {
    request.remove("max_output_tokens");
  }

  /** A previous response, a conversation or a stored prompt: turns the provider adds. */
  @Override
  public boolean addsStoredInput(ObjectNode request) {
    return RequestChecks.present(request.get("previous_response_id"))
        || RequestChecks.present(request.get("conversation"))
        || RequestChecks.present(request.get("prompt"));
  }

  /**
   * The instructions and each input item (a message's role and content, any other item's JSON),
   * with chat's framing per item, plus the tool and text-format definitions.
   */
  @Override
  public long inputTokens(
      TokenEstimator tokens, ObjectNode request, Tokenizer tokenizer, long bytes) {
    if (tokenizer == Tokenizer.BYTES) {
      return bytes;
    }
    long n = TokenEstimator.replyFraming();
    if (request.hasNonNull("instructions")) {
      n +=
          TokenEstimator.messageFraming()
              + tokens.countValue(request.get("instructions"), tokenizer);
    }
    JsonNode input = request.path("input");
    if (input.isTextual()) {
      n += TokenEstimator.messageFraming() + tokens.countValue(input, tokenizer);
    }
    for (JsonNode item : input.isArray() ? input : List.<JsonNode>of()) {
      n += TokenEstimator.messageFraming();
      if (item.has("role") && item.has("content")) {
        n += tokens.countValue(item.get("role"), tokenizer);
        n += tokens.countValue(item.get("content"), tokenizer);
      } else {
        n += tokens.countValue(item, tokenizer);
      }
    }
    for (String field : new String[] {"tools", "text", "prompt"}) {
      n += tokens.countValue(request.get(field), tokenizer);
    }
    return n;
  }

  @Override
  public Map<String, String> upstreamHeaders(String apiKey, UnaryOperator<String> clientHeader) {
    return ChatApi.bearer(apiKey);
  }

  @Override
  public UsageParser.Report usage(JsonNode answer) {
    return UsageParser.reportUsage(answer.get("usage"), USAGE);
  }

  /**
   * The output items' texts: messages' text and refusals, function and custom tool calls' names,
   * arguments and inputs, reasoning summaries and text.
   */
  @Override
  public List<String> outputTexts(JsonNode answer) {
    List<String> texts = new ArrayList<>(2);
    for (JsonNode item : answer.path("output")) {
      for (JsonNode part : item.path("content")) {
        Json.addText(part.path("text"), texts);
        Json.addText(part.path("refusal"), texts);
      }
      for (JsonNode part : item.path("summary")) {
        Json.addText(part.path("text"), texts);
      }
      if (!"message".equals(item.path("type").asText())) {
        Json.addText(item.path("name"), texts);
        Json.addText(item.path("arguments"), texts);
        Json.addText(item.path("input"), texts);
      }
    }
    return texts;
  }

  @Override
  public byte[] withCharge(
      byte[] answer, JsonNode parsed, Usage charged, boolean reported, OptionalLong credits) {
    return ChargedUsage.plain(answer, parsed, charged, reported, credits, ResponsesApi::counts);
  }

  /** A Responses usage object of {@code usage}'s counts. */
  static ObjectNode counts(Usage usage) {
    ObjectNode node = Json.MAPPER.createObjectNode();
    node.put("input_tokens", usage.inputTokens());
    node.putObject("input_tokens_details")
        .put("cached_tokens", usage.cachedTokens())
        .put("cache_write_tokens", 0);
    node.put("output_tokens", usage.outputTokens());
    node.putObject("output_tokens_details").put("reasoning_tokens", usage.reasoningTokens());
    node.put("total_tokens", usage.inputTokens() + usage.outputTokens());
    return node;
  }

  @Override
  public AnswerStream newStream(CallExchange x, long budget) {
    return new ResponsesStream(budget);
  }
}

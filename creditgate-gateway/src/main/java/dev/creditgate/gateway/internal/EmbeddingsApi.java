package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.Protocol;
import dev.creditgate.gateway.internal.TokenEstimator.Tokenizer;
import dev.creditgate.pricing.Usage;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.UnaryOperator;

/**
 * {@code POST /v1/embeddings}, OpenAI's Embeddings API: priced by input tokens alone. The input is
 * a string, an array of strings, an array of tokens or an array of token arrays; a token array
 * counts its length, a string its tokens with the route's tokenizer. The usage is {@code
 * prompt_tokens}; an embedding has no output and no output cap, and is never streamed.
 */
final class EmbeddingsApi implements LlmApi {

  static final EmbeddingsApi INSTANCE = new EmbeddingsApi();

  /** The most inputs one request may embed, as OpenAI allows. */
  static final int MAX_INPUTS = 2048;

  static final UsageParser.Shape USAGE = new UsageParser.Shape("prompt_tokens", "", "", "", "", "");

  private EmbeddingsApi() {}

  @Override
  public String name() {
    return "embeddings";
  }

  @Override
  public String operation() {
    return "embeddings";
  }

  @Override
  public Protocol protocol() {
    return Protocol.OPENAI;
  }

  @Override
  public String upstreamPath() {
    return "/embeddings";
  }

  @Override
  public ObjectNode validate(ObjectNode request, CallOptions options) {
    RequestChecks.optionalString(request, "model");
    JsonNode input = request.get("input");
    if (!RequestChecks.present(input)) {
      throw ApiError.invalidRequest("'input' is required", "input");
    }
    if (input.isTextual()) {
      requireText(input, "input");
    } else if (input.isArray()) {
      if (input.isEmpty()) {
        throw ApiError.invalidRequest("'input' must not be empty", "input");
      }
      if (input.size() > MAX_INPUTS) {
        throw ApiError.invalidRequest(
            "'input' must have at most " + MAX_INPUTS + " elements", "input");
      }
      if (input.get(0).isIntegralNumber()) {
        requireTokens(input, "input");
      } else {
        for (int i = 0; i < input.size(); i++) {
          JsonNode element = input.get(i);
          String name = "input[" + i + "]";
          if (element.isTextual()) {
            requireText(element, name);
          } else if (element.isArray()) {
            requireTokens(element, name);
          } else {
            throw ApiError.invalidRequest(
                "'" + name + "' must be a string or an array of tokens", name);
          }
        }
      }
    } else {
      throw ApiError.invalidRequest(
          "'input' must be a string, an array of strings or an array of tokens", "input");
    }
    RequestChecks.optionalCount(request, "dimensions");
    RequestChecks.optionalString(request, "encoding_format");
    if (request.path("stream").asBoolean(false)) {
      throw ApiError.invalidRequest("embeddings cannot be streamed; send no 'stream'", "stream");
    }
    return request;
  }

  private static void requireText(JsonNode text, String name) {
    if (text.asText().isEmpty()) {
      throw ApiError.invalidRequest("'" + name + "' must not be an empty string", name);
    }
  }

  private static void requireTokens(JsonNode tokens, String name) {
    if (tokens.isEmpty()) {
      throw ApiError.invalidRequest("'" + name + "' must not be empty", name);
    }
    for (JsonNode t : tokens) {
      if (!t.isIntegralNumber() || !t.canConvertToInt() || t.asInt() < 0) {
        throw ApiError.invalidRequest(
            "'" + name + "' must hold only non-negative integer tokens", name);
      }
    }
  }

  @Override
  public boolean stream(ObjectNode request) {
    return false;
  }

  @Override
  public long outputCap(ObjectNode request) {
    return 0;
  }

  @Override
  public boolean producesOutput() {
    return false;
  }

  @Override
  public String outputCapField() {
    return "";
  }

  @Override
  public void setOutputCap(ObjectNode request, long cap, ModelRoute route) {
    throw new IllegalStateException("an embedding has no output cap");
  }

  @Override
  public long inputTokens(
      TokenEstimator tokens, ObjectNode request, Tokenizer tokenizer, long bytes) {
    if (tokenizer == Tokenizer.BYTES) {
      return bytes;
    }
    return count(tokens, request.path("input"), tokenizer);
  }

  private static long count(TokenEstimator tokens, JsonNode input, Tokenizer tokenizer) {
    if (input.isTextual()) {
      return tokens.countValue(input, tokenizer);
    }
    if (input.isArray() && !input.isEmpty() && input.get(0).isIntegralNumber()) {
      return input.size();
    }
    long n = 0;
    for (JsonNode element : input) {
      n += count(tokens, element, tokenizer);
    }
    return n;
  }

  @Override
  public Usage estimate(
      TokenEstimator tokens, ObjectNode request, String output, long outputCharsDropped) {
    return new Usage(count(tokens, request.path("input"), Tokenizer.O200K_BASE), 0, 0, 0);
  }

  @Override
  public Map<String, String> upstreamHeaders(String apiKey, UnaryOperator<String> clientHeader) {
    return ChatApi.bearer(apiKey);
  }

  @Override
  public UsageParser.Report usage(JsonNode answer) {
    return UsageParser.reportUsage(answer.get("usage"), USAGE);
  }

  @Override
  public List<String> outputTexts(JsonNode answer) {
    return List.of();
  }

  @Override
  public byte[] withCharge(
      byte[] answer, JsonNode parsed, Usage charged, boolean reported, OptionalLong credits) {
    return ChargedUsage.plain(answer, parsed, charged, reported, credits, EmbeddingsApi::counts);
  }

  /** An embeddings usage object of {@code usage}'s input. */
  static ObjectNode counts(Usage usage) {
    ObjectNode node = Json.MAPPER.createObjectNode();
    node.put("prompt_tokens", usage.inputTokens());
    node.put("total_tokens", usage.inputTokens());
    return node;
  }

  @Override
  public AnswerStream newStream(CallExchange x, long budget) {
    throw new IllegalStateException("embeddings are never streamed");
  }
}

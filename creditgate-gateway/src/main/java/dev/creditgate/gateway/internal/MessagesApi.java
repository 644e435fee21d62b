package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.Protocol;
import dev.creditgate.gateway.internal.TokenEstimator.Tokenizer;
import dev.creditgate.pricing.Usage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.UnaryOperator;

/**
 * {@code POST /v1/messages}, Anthropic's Messages API, to an upstream of the {@link
 * Protocol#ANTHROPIC} protocol: output capped by the required {@code max_tokens}, the upstream's
 * key in {@code x-api-key}, the client's {@code anthropic-version} and {@code anthropic-beta}
 * passed on, errors in Anthropic's shape.
 *
 * <p>Usage is Anthropic's: {@code input_tokens} does not include the prompt tokens read from or
 * written to the provider's cache, which come as {@code cache_read_input_tokens} and {@code
 * cache_creation_input_tokens}. The gateway's usage counts all three as input, the cache reads as
 * cached tokens (priced at a rule's cached price); cache writes are priced as input.
 */
final class MessagesApi implements LlmApi {

  static final MessagesApi INSTANCE = new MessagesApi();

  /** The {@code anthropic-version} sent when the client sends none. */
  static final String DEFAULT_VERSION = "2023-06-01";

  private MessagesApi() {}

  @Override
  public String name() {
    return "messages";
  }

  @Override
  public String operation() {
    return "chat";
  }

  @Override
  public Protocol protocol() {
    return Protocol.ANTHROPIC;
  }

  @Override
  public String upstreamPath() {
    return "/messages";
  }

  @Override
  public ObjectNode validate(ObjectNode request, CallOptions options) {
    RequestChecks.optionalString(request, "model");
    if (!RequestChecks.present(request.get("max_tokens"))) {
      throw ApiError.invalidRequest("'max_tokens' is required", "max_tokens");
    }
    RequestChecks.outputCap(request, "max_tokens");
    RequestChecks.positiveIfPresent(request, "max_tokens");
    JsonNode messages = RequestChecks.nonEmptyArray(request, "messages");
    for (int i = 0; i < messages.size(); i++) {
      JsonNode m = messages.get(i);
      String name = "messages[" + i + "]";
      if (!m.isObject()) {
        throw ApiError.invalidRequest("'" + name + "' must be an object", name);
      }
      if (!m.path("role").isTextual()) {
        throw ApiError.invalidRequest("'" + name + ".role' must be a string", name + ".role");
      }
      JsonNode content = m.get("content");
      if (!RequestChecks.present(content) || !(content.isTextual() || content.isArray())) {
        throw ApiError.invalidRequest(
            "'" + name + ".content' must be a string or an array", name + ".content");
      }
    }
    JsonNode system = request.get("system");
    if (RequestChecks.present(system) && !system.isTextual() && !system.isArray()) {
      throw ApiError.invalidRequest("'system' must be a string or an array", "system");
    }
    RequestChecks.optionalBoolean(request, "stream");
    return request;
  }

  @Override
  public boolean stream(ObjectNode request) {
    return request.path("stream").asBoolean(false);
  }

  @Override
  public long outputCap(ObjectNode request) {
    return request.path("max_tokens").asLong(0);
  }

  @Override
  public String outputCapField() {
    return "max_tokens";
  }

  @Override
  public void setOutputCap(ObjectNode request, long cap, ModelRoute route) {
    request.put("max_tokens", cap);
  }

  /** The system prompt, each message's role and content, and the tool definitions. */
  @Override
  public long inputTokens(
      TokenEstimator tokens, ObjectNode request, Tokenizer tokenizer, long bytes) {
    if (tokenizer == Tokenizer.BYTES) {
      return bytes;
    }
    long n = TokenEstimator.replyFraming() + tokens.countValue(request.get("system"), tokenizer);
    for (JsonNode m : request.path("messages")) {
      n += TokenEstimator.messageFraming();
      n += tokens.countValue(m.get("role"), tokenizer);
      n += tokens.countValue(m.get("content"), tokenizer);
    }
    n += tokens.countValue(request.get("tools"), tokenizer);
    return n;
  }

  @Override
  public Map<String, String> upstreamHeaders(String apiKey, UnaryOperator<String> clientHeader) {
    Map<String, String> headers = new LinkedHashMap<>();
    if (!apiKey.isEmpty()) {
      headers.put("x-api-key", apiKey);
    }
    String version = clientHeader.apply("anthropic-version");
    headers.put("anthropic-version", plain(version) ? version.trim() : DEFAULT_VERSION);
    String beta = clientHeader.apply("anthropic-beta");
    if (plain(beta)) {
      headers.put("anthropic-beta", beta.trim());
    }
    return headers;
  }

  /** A header value safe to pass on: short printable ASCII. */
  private static boolean plain(String value) {
    return value != null
        && !value.isBlank()
        && value.length() <= ReadRequest.MAX_HEADER_LENGTH
        && value.chars().allMatch(c -> c >= 0x20 && c < 0x7f);
  }

  @Override
  public UsageParser.Report usage(JsonNode answer) {
    return report(answer.get("usage"), true);
  }

  /**
   * An Anthropic usage object: input is {@code input_tokens} plus the cache's reads and writes,
   * cached tokens the reads.
   *
   * @param inputRequired whether {@code input_tokens} must be there (a stream's closing {@code
   *     message_delta} may carry only the output)
   */
  static UsageParser.Report report(JsonNode usage, boolean inputRequired) {
    if (usage == null || usage.isNull() || usage.isMissingNode()) {
      return UsageParser.Report.ABSENT;
    }
    if (!usage.isObject()) {
      return UsageParser.Report.malformed("usage is not an object");
    }
    long input = UsageParser.count(usage, "input_tokens", inputRequired);
    long output = UsageParser.count(usage, "output_tokens", true);
    long writes = UsageParser.count(usage, "cache_creation_input_tokens", false);
    long reads = UsageParser.count(usage, "cache_read_input_tokens", false);
    if (input < 0 || output < 0 || writes < 0 || reads < 0) {
      return UsageParser.Report.malformed(
          "input_tokens, output_tokens and the cache counts must be non-negative integers");
    }
    try {
      long total = Math.addExact(Math.addExact(input, writes), reads);
      return UsageParser.Report.valid(new Usage(total, output, reads, 0));
    } catch (ArithmeticException e) {
      return UsageParser.Report.malformed("the input counts overflow");
    }
  }

  /** Content blocks' text and thinking, and tool calls' names and inputs. */
  @Override
  public List<String> outputTexts(JsonNode answer) {
    List<String> texts = new ArrayList<>(2);
    for (JsonNode block : answer.path("content")) {
      Json.addText(block.path("text"), texts);
      Json.addText(block.path("thinking"), texts);
      if (block.has("input")) {
        Json.addText(block.path("name"), texts);
        JsonNode input = block.get("input");
        if (!input.isNull() && !(input.isObject() && input.isEmpty())) {
          texts.add(input.toString());
        }
      }
    }
    return texts;
  }

  @Override
  public byte[] withCharge(
      byte[] answer, JsonNode parsed, Usage charged, boolean reported, OptionalLong credits) {
    return ChargedUsage.plain(answer, parsed, charged, reported, credits, MessagesApi::counts);
  }

  /** An Anthropic usage object of {@code usage}'s counts (its cached tokens as cache reads). */
  static ObjectNode counts(Usage usage) {
    ObjectNode node = Json.MAPPER.createObjectNode();
    node.put("input_tokens", usage.inputTokens() - usage.cachedTokens());
    node.put("output_tokens", usage.outputTokens());
    node.put("cache_creation_input_tokens", 0);
    node.put("cache_read_input_tokens", usage.cachedTokens());
    return node;
  }

  @Override
  public AnswerStream newStream(CallExchange x, long budget) {
    return new MessagesStream(budget);
  }

  /**
   * Anthropic's error shape, {@code {"type":"error","error":{"type":..,"message":..}}}, its type
   * the one Anthropic gives that status; the gateway's code is kept beside it.
   */
  @Override
  public byte[] errorBody(ApiError error) {
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.put("type", "error");
    ObjectNode e = root.putObject("error");
    e.put("type", errorType(error.status()));
    e.put("message", error.getMessage());
    if (error.code() != null) {
      e.put("code", error.code());
    }
    return Json.bytes(root);
  }

  static String errorType(int status) {
    return switch (status) {
      case 401 -> "authentication_error";
      case 402 -> "billing_error";
      case 403 -> "permission_error";
      case 404 -> "not_found_error";
      case 413 -> "request_too_large";
      case 429 -> "rate_limit_error";
      case 504 -> "timeout_error";
      case 529 -> "overloaded_error";
      default -> status < 500 ? "invalid_request_error" : "api_error";
    };
  }
}

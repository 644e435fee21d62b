package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;

/**
 * What a chat completion request must look like before the gateway meters it: the fields it reads
 * (model, messages, stream, output caps) have the types OpenAI's API gives them, and those that
 * multiply the size of an answer ({@code n}, {@code top_logprobs}) stay within the configured
 * bounds. Anything else is the upstream's to judge.
 */
final class ChatRequestRules {

  private static final String[] COUNTS = {
    "max_tokens", "max_completion_tokens", "n", "top_logprobs"
  };

  /** The largest output cap accepted: far above any model's, small enough to price exactly. */
  static final long MAX_OUTPUT_TOKENS = 10_000_000;

  /** The most choices ({@code n}) one request may ask for, whatever the configuration. */
  static final long MAX_CHOICES = 128;

  /** The most {@code top_logprobs} one request may ask for, whatever the configuration. */
  static final long MAX_TOP_LOGPROBS = 20;

  private ChatRequestRules() {}

  /** {@link #validate(ObjectNode, long, long)} within the bounds no configuration exceeds. */
  static ObjectNode validate(ObjectNode request) {
    return validate(request, MAX_CHOICES, MAX_TOP_LOGPROBS);
  }

  /**
   * Returns {@code request} when it is valid.
   *
   * @param maxChoices the most choices ({@code n}) accepted
   * @param maxTopLogprobs the most {@code top_logprobs} accepted
   * @throws ApiError 400 naming the first invalid field
   */
  static ObjectNode validate(ObjectNode request, long maxChoices, long maxTopLogprobs) {
    RequestChecks.optionalString(request, "model");
    JsonNode messages = RequestChecks.nonEmptyArray(request, "messages");
    for (int i = 0; i < messages.size(); i++) {
      checkMessage(messages.get(i), "messages[" + i + "]");
    }
    RequestChecks.optionalBoolean(request, "stream");
    JsonNode options = request.get("stream_options");
    if (present(options) && !options.isObject()) {
      throw ApiError.invalidRequest("'stream_options' must be an object", "stream_options");
    }
    for (String field : COUNTS) {
      RequestChecks.optionalCount(request, field);
    }
    RequestChecks.outputCap(request, "max_tokens");
    RequestChecks.outputCap(request, "max_completion_tokens");
    if (request.path("n").asLong(1) > maxChoices) {
      throw ApiError.invalidRequest("'n' must be at most " + maxChoices, "n");
    }
    RequestChecks.optionalBoolean(request, "logprobs");
    if (request.path("top_logprobs").asLong(0) > maxTopLogprobs) {
      throw ApiError.invalidRequest(
          "'top_logprobs' must be at most " + maxTopLogprobs, "top_logprobs");
    }
    JsonNode temperature = request.get("temperature");
    if (present(temperature) && !temperature.isNumber()) {
      throw ApiError.invalidRequest("'temperature' must be a number", "temperature");
    }
    return request;
  }

  private static void checkMessage(JsonNode m, String name) {
    if (!m.isObject()) {
      throw ApiError.invalidRequest("'" + name + "' must be an object", name);
    }
    if (!m.path("role").isTextual()) {
      throw ApiError.invalidRequest("'" + name + ".role' must be a string", name + ".role");
    }
    JsonNode content = m.get("content");
    if (present(content) && !content.isTextual() && !content.isArray()) {
      throw ApiError.invalidRequest(
          "'" + name + ".content' must be a string or an array", name + ".content");
    }
  }

  private static boolean present(JsonNode node) {
    return RequestChecks.present(node);
  }
}

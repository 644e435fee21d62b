package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;

/**
 * What a chat completion request must look like before the gateway meters it: the fields it reads
 * (model, messages, stream, output caps) have the types OpenAI's API gives them. Anything else is
 * the upstream's to judge.
 */
final class ChatRequestRules {

  private static final String[] COUNTS = {"max_tokens", "max_completion_tokens", "n"};

  private ChatRequestRules() {}

  /**
   * Returns {@code request} when it is valid.
   *
   * @throws ApiError 400 naming the first invalid field
   */
  static ObjectNode validate(ObjectNode request) {
    JsonNode model = request.get("model");
    if (present(model) && !model.isTextual()) {
      throw ApiError.invalidRequest("'model' must be a string", "model");
    }
    JsonNode messages = request.get("messages");
    if (!present(messages)) {
      throw ApiError.invalidRequest("'messages' is required", "messages");
    }
    if (!messages.isArray()) {
      throw ApiError.invalidRequest("'messages' must be an array", "messages");
    }
    if (messages.isEmpty()) {
      throw ApiError.invalidRequest("'messages' must not be empty", "messages");
    }
    for (int i = 0; i < messages.size(); i++) {
      checkMessage(messages.get(i), "messages[" + i + "]");
    }
    JsonNode stream = request.get("stream");
    if (present(stream) && !stream.isBoolean()) {
      throw ApiError.invalidRequest("'stream' must be a boolean", "stream");
    }
    JsonNode options = request.get("stream_options");
    if (present(options) && !options.isObject()) {
      throw ApiError.invalidRequest("'stream_options' must be an object", "stream_options");
    }
    for (String field : COUNTS) {
      JsonNode v = request.get(field);
      if (present(v) && (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0)) {
        throw ApiError.invalidRequest("'" + field + "' must be a non-negative integer", field);
      }
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
    return node != null && !node.isNull();
  }
}

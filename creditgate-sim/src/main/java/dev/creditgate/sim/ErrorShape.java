package dev.creditgate.sim;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** How a protocol writes an error body. */
enum ErrorShape {

  /** {@code {"error":{"message","type","param","code"}}}, as OpenAI's APIs answer. */
  OPENAI {
    @Override
    ObjectNode error(ObjectMapper mapper, int status, String message, String param, String code) {
      return openAi(mapper, message, "invalid_request_error", param, code);
    }

    @Override
    ObjectNode failure(ObjectMapper mapper, int status, String message) {
      String type =
          status == 429
              ? "rate_limit_error"
              : status >= 500 ? "server_error" : "invalid_request_error";
      return openAi(mapper, message, type, null, "simulated_failure");
    }
  },

  /**
   * {@code {"type":"error","error":{"type","message"}}}, as Anthropic's Messages API answers; the
   * error type follows the status, and the message names the bad field.
   */
  ANTHROPIC {
    @Override
    ObjectNode error(ObjectMapper mapper, int status, String message, String param, String code) {
      return failure(mapper, status, message);
    }

    @Override
    ObjectNode failure(ObjectMapper mapper, int status, String message) {
      ObjectNode body = mapper.createObjectNode();
      body.put("type", "error");
      ObjectNode error = body.putObject("error");
      error.put("type", anthropicType(status));
      error.put("message", message);
      return body;
    }
  };

  /** A client error (malformed, unauthorized, unknown path): {@code param} may be null. */
  abstract ObjectNode error(
      ObjectMapper mapper, int status, String message, String param, String code);

  /** A failure injected by {@code X-Sim-Fail} or a {@link Fault}. */
  abstract ObjectNode failure(ObjectMapper mapper, int status, String message);

  static String anthropicType(int status) {
    return switch (status) {
      case 401 -> "authentication_error";
      case 403 -> "permission_error";
      case 404 -> "not_found_error";
      case 413 -> "request_too_large";
      case 429 -> "rate_limit_error";
      case 529 -> "overloaded_error";
      default -> status >= 500 ? "api_error" : "invalid_request_error";
    };
  }

  private static ObjectNode openAi(
      ObjectMapper mapper, String message, String type, String param, String code) {
    ObjectNode body = mapper.createObjectNode();
    ObjectNode error = body.putObject("error");
    error.put("message", message);
    error.put("type", type);
    if (param == null) {
      error.putNull("param");
    } else {
      error.put("param", param);
    }
    error.put("code", code);
    return body;
  }
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;

/**
 * Checks of the request fields the gateway reads, shared by the APIs: each throws {@link ApiError}
 * 400 naming the field. A field that is absent or {@code null} passes an optional check.
 */
final class RequestChecks {

  private RequestChecks() {}

  static boolean present(JsonNode node) {
    return node != null && !node.isNull() && !node.isMissingNode();
  }

  static void optionalString(ObjectNode request, String field) {
    JsonNode v = request.get(field);
    if (present(v) && !v.isTextual()) {
      throw ApiError.invalidRequest("'" + field + "' must be a string", field);
    }
  }

  static void optionalBoolean(ObjectNode request, String field) {
    JsonNode v = request.get(field);
    if (present(v) && !v.isBoolean()) {
      throw ApiError.invalidRequest("'" + field + "' must be a boolean", field);
    }
  }

  /** A count: a non-negative integer that fits a long. */
  static void optionalCount(ObjectNode request, String field) {
    JsonNode v = request.get(field);
    if (present(v) && (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0)) {
      throw ApiError.invalidRequest("'" + field + "' must be a non-negative integer", field);
    }
  }

  /** An output cap: a count of at most {@link ChatRequestRules#MAX_OUTPUT_TOKENS}. */
  static void outputCap(ObjectNode request, String field) {
    optionalCount(request, field);
    if (request.path(field).asLong(0) > ChatRequestRules.MAX_OUTPUT_TOKENS) {
      throw ApiError.invalidRequest(
          "'" + field + "' must be at most " + ChatRequestRules.MAX_OUTPUT_TOKENS, field);
    }
  }

  /** A count that, when present, is at least 1. */
  static void positiveIfPresent(ObjectNode request, String field) {
    if (present(request.get(field)) && request.get(field).asLong() < 1) {
      throw ApiError.invalidRequest("'" + field + "' must be at least 1", field);
    }
  }

  /** A required, non-empty array. */
  static JsonNode nonEmptyArray(ObjectNode request, String field) {
    JsonNode v = request.get(field);
    if (!present(v)) {
      throw ApiError.invalidRequest("'" + field + "' is required", field);
    }
    if (!v.isArray()) {
      throw ApiError.invalidRequest("'" + field + "' must be an array", field);
    }
    if (v.isEmpty()) {
      throw ApiError.invalidRequest("'" + field + "' must not be empty", field);
    }
    return v;
  }
}

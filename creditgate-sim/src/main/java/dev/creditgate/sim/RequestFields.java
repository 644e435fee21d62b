package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;

/** Checks on request body fields shared by the protocol endpoints; each names the bad field. */
final class RequestFields {

  private RequestFields() {}

  /** The required {@code model}: a non-blank string. */
  static String model(JsonNode root) throws BadRequest {
    JsonNode model = root.get("model");
    if (model == null || model.isNull()) {
      throw new BadRequest(
          "you must provide a model parameter", "model", "missing_required_parameter");
    }
    if (!model.isTextual() || model.asText().isBlank()) {
      throw new BadRequest(
          "model must be a non-empty string, but was " + model, "model", "invalid_type");
    }
    return model.asText();
  }

  /** An optional boolean, false when absent or null. */
  static boolean bool(JsonNode parent, String field) throws BadRequest {
    JsonNode node = parent.get(field);
    if (node == null || node.isNull()) {
      return false;
    }
    if (!node.isBoolean()) {
      throw new BadRequest(
          field + " must be a boolean, but was " + abbreviate(node), field, "invalid_type");
    }
    return node.asBoolean();
  }

  /** An optional positive integer, {@link Integer#MAX_VALUE} when absent or null. */
  static int positive(JsonNode root, String field) throws BadRequest {
    JsonNode node = root.get(field);
    if (node == null || node.isNull()) {
      return Integer.MAX_VALUE;
    }
    if (!node.canConvertToInt() || !node.isIntegralNumber() || node.asInt() < 1) {
      throw new BadRequest(
          field + " must be a positive integer, but was " + abbreviate(node),
          field,
          "invalid_value");
    }
    return node.asInt();
  }

  /** An optional string field's value, or null when absent, null or not a string. */
  static String text(JsonNode parent, String field) {
    JsonNode node = parent == null ? null : parent.get(field);
    return node != null && node.isTextual() ? node.asText() : null;
  }

  /** A short rendering of a value for an error message. */
  static String abbreviate(JsonNode node) {
    String text = String.valueOf(node);
    return text.length() <= 60 ? text : text.substring(0, 57) + "...";
  }
}

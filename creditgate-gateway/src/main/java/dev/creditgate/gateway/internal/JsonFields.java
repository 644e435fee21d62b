package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.Checks;
import dev.creditgate.gateway.ApiError;

/** Reads the fields of a JSON request body, each error naming the field (HTTP 4xx). */
final class JsonFields {

  /** The most characters of a bad value quoted in an error. */
  private static final int QUOTED_VALUE_LENGTH = 40;

  private JsonFields() {}

  static String requiredString(ObjectNode b, String field) {
    JsonNode v = b.get(field);
    if (v == null || v.isNull()) {
      throw ApiError.validation(field + " is required", field);
    }
    if (!v.isTextual()) {
      throw ApiError.validation(field + " must be a string", field);
    }
    return v.asText().trim();
  }

  static String optionalString(ObjectNode b, String field, String def) {
    JsonNode v = b.get(field);
    if (v == null || v.isNull()) {
      return def;
    }
    if (!v.isTextual()) {
      throw ApiError.validation(field + " must be a string", field);
    }
    String s = v.asText().trim();
    if (s.length() > 500) {
      throw ApiError.validation(
          field + " must be at most 500 characters, but was " + s.length(), field);
    }
    return s;
  }

  static long requiredLong(ObjectNode b, String field) {
    JsonNode v = b.get(field);
    if (v == null || v.isNull()) {
      throw ApiError.validation(field + " is required", field);
    }
    return asLong(v, field);
  }

  static long optionalLong(ObjectNode b, String field, long def) {
    JsonNode v = b.get(field);
    return v == null || v.isNull() ? def : asLong(v, field);
  }

  static long optionalLongIn(ObjectNode b, String field, long def, long min, long max) {
    long v = optionalLong(b, field, def);
    if (v < min || v > max) {
      throw ApiError.validation(
          field + " must be between " + min + " and " + max + ", but was " + v, field);
    }
    return v;
  }

  static long asLong(JsonNode v, String field) {
    if (!v.isIntegralNumber()) {
      throw ApiError.validation(
          field
              + " must be an integer, but was "
              + Checks.abbreviate(v.toString(), QUOTED_VALUE_LENGTH),
          field);
    }
    if (!v.canConvertToLong()) {
      throw ApiError.validation(
          field + " is out of range: " + Checks.abbreviate(v.toString(), QUOTED_VALUE_LENGTH),
          field);
    }
    return v.asLong();
  }

  static boolean optionalBool(ObjectNode b, String field, boolean def) {
    JsonNode v = b.get(field);
    if (v == null || v.isNull()) {
      return def;
    }
    if (!v.isBoolean()) {
      throw ApiError.validation(field + " must be true or false", field);
    }
    return v.asBoolean();
  }
}

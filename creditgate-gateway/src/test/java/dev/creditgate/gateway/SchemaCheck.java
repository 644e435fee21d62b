package dev.creditgate.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks a JSON value against a schema of an OpenAPI 3.1 document, for the JSON Schema keywords the
 * admin API's document uses. It is stricter than JSON Schema in one way: an object may hold only
 * the properties its schema names, so a field the gateway answers with but the document leaves out
 * is a problem. A keyword it does not know is a problem too, rather than a check skipped.
 *
 * <p>(A full JSON Schema 2020-12 validator needs Jackson 3, whose annotations are newer than those
 * of the gateway's Jackson 2.)
 */
final class SchemaCheck {

  /** Keywords that describe and do not constrain. */
  private static final Set<String> ANNOTATIONS =
      Set.of("description", "examples", "default", "format", "title");

  private final JsonNode document;

  SchemaCheck(JsonNode document) {
    this.document = document;
  }

  /**
   * The ways {@code value} departs from {@code schema}, a schema of the document or one naming a
   * schema of the document ({@code {"$ref":"#/components/schemas/Account"}}); empty when it
   * conforms.
   */
  List<String> problems(JsonNode schema, JsonNode value) {
    List<String> problems = new ArrayList<>();
    check(schema, value, "$", problems);
    return problems;
  }

  private JsonNode resolve(String ref) {
    if (!ref.startsWith("#/")) {
      throw new IllegalArgumentException("not a reference inside the document: " + ref);
    }
    JsonNode schema = document.at(ref.substring(1));
    if (schema.isMissingNode()) {
      throw new IllegalArgumentException("the document has no " + ref);
    }
    return schema;
  }

  private void check(JsonNode schema, JsonNode value, String at, List<String> problems) {
    for (Map.Entry<String, JsonNode> keyword : schema.properties()) {
      JsonNode arg = keyword.getValue();
      switch (keyword.getKey()) {
        case "$ref" -> check(resolve(arg.asText()), value, at, problems);
        case "allOf" -> arg.forEach(part -> check(part, value, at, problems));
        case "type" -> {
          if (!hasType(arg, value)) {
            problems.add(at + " should be of type " + arg + ", but was " + value);
          }
        }
        case "enum" -> {
          if (!contains(arg, value)) {
            problems.add(at + " should be one of " + arg + ", but was " + value);
          }
        }
        case "const" -> {
          if (!arg.equals(value)) {
            problems.add(at + " should be " + arg + ", but was " + value);
          }
        }
        case "required" -> {
          for (JsonNode name : arg) {
            if (value.isObject() && !value.has(name.asText())) {
              problems.add(at + " lacks the required " + name);
            }
          }
        }
        case "properties" -> properties(schema, arg, value, at, problems);
        case "additionalProperties" -> {
          // Read with "properties".
        }
        case "items" -> {
          for (int i = 0; value.isArray() && i < value.size(); i++) {
            check(arg, value.get(i), at + "[" + i + "]", problems);
          }
        }
        case "pattern" -> {
          if (value.isTextual() && !Pattern.compile(arg.asText()).matcher(value.asText()).find()) {
            problems.add(at + " should match " + arg + ", but was " + value);
          }
        }
        case "minimum" -> {
          if (value.isNumber() && value.decimalValue().compareTo(arg.decimalValue()) < 0) {
            problems.add(at + " should be at least " + arg + ", but was " + value);
          }
        }
        case "maximum" -> {
          if (value.isNumber() && value.decimalValue().compareTo(arg.decimalValue()) > 0) {
            problems.add(at + " should be at most " + arg + ", but was " + value);
          }
        }
        case "maxLength" -> {
          if (value.isTextual()
              && value.asText().codePointCount(0, value.asText().length()) > arg.asInt()) {
            problems.add(at + " should have at most " + arg + " characters");
          }
        }
        default -> {
          if (!ANNOTATIONS.contains(keyword.getKey())) {
            problems.add(at + ": the check does not know the keyword '" + keyword.getKey() + "'");
          }
        }
      }
    }
  }

  private void properties(
      JsonNode schema, JsonNode named, JsonNode value, String at, List<String> problems) {
    if (!value.isObject()) {
      return;
    }
    for (Map.Entry<String, JsonNode> field : value.properties()) {
      JsonNode property = named.get(field.getKey());
      String where = at + "." + field.getKey();
      if (property != null) {
        check(property, field.getValue(), where, problems);
      } else if (!schema.path("additionalProperties").asBoolean(false)) {
        problems.add(where + " is not in the document");
      }
    }
  }

  private static boolean hasType(JsonNode type, JsonNode value) {
    if (type.isArray()) {
      for (JsonNode one : type) {
        if (hasType(one, value)) {
          return true;
        }
      }
      return false;
    }
    return switch (type.asText()) {
      case "object" -> value.isObject();
      case "array" -> value.isArray();
      case "string" -> value.isTextual();
      case "integer" -> value.isIntegralNumber();
      case "number" -> value.isNumber();
      case "boolean" -> value.isBoolean();
      case "null" -> value.isNull();
      default -> throw new IllegalArgumentException("not a JSON Schema type: " + type);
    };
  }

  private static boolean contains(JsonNode values, JsonNode value) {
    for (JsonNode one : values) {
      if (one.equals(value)) {
        return true;
      }
    }
    return false;
  }
}

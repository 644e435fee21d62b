package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The JSON of OpenAI's Responses API: the {@code response} object with every field the real API
 * returns (the SDKs require most of them), its {@code message} output item, the {@code output_text}
 * part and the usage. Request settings the simulator ignores are echoed as the real API echoes
 * them.
 */
final class ResponseShapes {

  static final String IN_PROGRESS = "in_progress";
  static final String COMPLETED = "completed";
  static final String INCOMPLETE = "incomplete";

  private final ObjectMapper mapper;

  ResponseShapes(ObjectMapper mapper) {
    this.mapper = mapper;
  }

  /**
   * The {@code response} object. {@code output} is empty while in progress; {@code usage} is null
   * while in progress or when no usage is reported.
   */
  ObjectNode response(
      String id, long createdAt, String status, JsonNode request, ArrayNode output, Usage usage) {
    ObjectNode r = mapper.createObjectNode();
    r.put("id", id);
    r.put("object", "response");
    r.put("created_at", createdAt);
    r.put("status", status);
    r.set("background", echo(request, "background", mapper.getNodeFactory().booleanNode(false)));
    r.putNull("error");
    if (status.equals(INCOMPLETE)) {
      r.putObject("incomplete_details").put("reason", "max_output_tokens");
    } else {
      r.putNull("incomplete_details");
    }
    r.set("instructions", textOrNull(request, "instructions"));
    r.set("max_output_tokens", integerOrNull(request, "max_output_tokens"));
    r.set("max_tool_calls", integerOrNull(request, "max_tool_calls"));
    r.put("model", request.get("model").asText());
    r.set("output", output);
    r.set(
        "parallel_tool_calls",
        echo(request, "parallel_tool_calls", mapper.getNodeFactory().booleanNode(true)));
    r.set("previous_response_id", textOrNull(request, "previous_response_id"));
    r.set("prompt_cache_key", textOrNull(request, "prompt_cache_key"));
    ObjectNode reasoning = mapper.createObjectNode();
    reasoning.putNull("effort");
    reasoning.putNull("summary");
    r.set("reasoning", objectOr(request, "reasoning", reasoning));
    r.set("safety_identifier", textOrNull(request, "safety_identifier"));
    r.put("service_tier", "default");
    r.set("store", echo(request, "store", mapper.getNodeFactory().booleanNode(true)));
    r.set("temperature", numberOr(request, "temperature", 1.0));
    ObjectNode text = mapper.createObjectNode();
    text.putObject("format").put("type", "text");
    text.put("verbosity", "medium");
    r.set("text", objectOr(request, "text", text));
    JsonNode toolChoice = request.get("tool_choice");
    r.set(
        "tool_choice",
        toolChoice != null && (toolChoice.isTextual() || toolChoice.isObject())
            ? toolChoice
            : mapper.getNodeFactory().textNode("auto"));
    JsonNode tools = request.get("tools");
    r.set("tools", tools != null && tools.isArray() ? tools : mapper.createArrayNode());
    r.set("top_logprobs", integerOr(request, "top_logprobs", 0));
    r.set("top_p", numberOr(request, "top_p", 1.0));
    JsonNode truncation = request.get("truncation");
    r.put(
        "truncation",
        truncation != null && truncation.asText("").equals("auto") ? "auto" : "disabled");
    if (usage == null) {
      r.putNull("usage");
    } else {
      r.set("usage", usage(usage));
    }
    r.set("user", textOrNull(request, "user"));
    r.set("metadata", objectOr(request, "metadata", mapper.createObjectNode()));
    return r;
  }

  /** The assistant {@code message} output item; an empty content list while in progress. */
  ObjectNode message(String itemId, String status, ObjectNode part) {
    ObjectNode item = mapper.createObjectNode();
    item.put("id", itemId);
    item.put("type", "message");
    item.put("status", status);
    ArrayNode content = item.putArray("content");
    if (part != null) {
      content.add(part);
    }
    item.put("role", "assistant");
    return item;
  }

  /** An {@code output_text} content part. */
  ObjectNode outputText(String text) {
    ObjectNode part = mapper.createObjectNode();
    part.put("type", "output_text");
    part.putArray("annotations");
    part.putArray("logprobs");
    part.put("text", text);
    return part;
  }

  ObjectNode usage(Usage usage) {
    ObjectNode node = mapper.createObjectNode();
    node.put("input_tokens", usage.promptTokens());
    ObjectNode inputDetails = node.putObject("input_tokens_details");
    inputDetails.put("cached_tokens", usage.cachedTokens());
    // openai-java 4.x requires it; the simulator writes no prompt cache on this API.
    inputDetails.put("cache_write_tokens", 0);
    node.put("output_tokens", usage.completionTokens());
    node.putObject("output_tokens_details").put("reasoning_tokens", usage.reasoningTokens());
    node.put("total_tokens", usage.totalTokens());
    return node;
  }

  private JsonNode echo(JsonNode request, String field, JsonNode fallback) {
    JsonNode value = request.get(field);
    return value != null && value.getNodeType() == fallback.getNodeType() ? value : fallback;
  }

  private JsonNode textOrNull(JsonNode request, String field) {
    JsonNode value = request.get(field);
    return value != null && value.isTextual() ? value : mapper.getNodeFactory().nullNode();
  }

  private JsonNode integerOrNull(JsonNode request, String field) {
    JsonNode value = request.get(field);
    return value != null && value.isIntegralNumber() ? value : mapper.getNodeFactory().nullNode();
  }

  private JsonNode integerOr(JsonNode request, String field, int fallback) {
    JsonNode value = request.get(field);
    return value != null && value.isIntegralNumber()
        ? value
        : mapper.getNodeFactory().numberNode(fallback);
  }

  private JsonNode numberOr(JsonNode request, String field, double fallback) {
    JsonNode value = request.get(field);
    return value != null && value.isNumber() ? value : mapper.getNodeFactory().numberNode(fallback);
  }

  private JsonNode objectOr(JsonNode request, String field, ObjectNode fallback) {
    JsonNode value = request.get(field);
    return value != null && value.isObject() ? value : fallback;
  }
}

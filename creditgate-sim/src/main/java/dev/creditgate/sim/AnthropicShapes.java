package dev.creditgate.sim;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The JSON of Anthropic's Messages API: the {@code message} object, its usage, typed events. */
final class AnthropicShapes {

  private final ObjectMapper mapper;

  AnthropicShapes(ObjectMapper mapper) {
    this.mapper = mapper;
  }

  /**
   * A {@code message} with empty content. {@code stopReason} is null at a stream's start; usage is
   * left out when {@code usage} is null.
   */
  ObjectNode message(String id, String model, String stopReason, Usage usage) {
    ObjectNode m = mapper.createObjectNode();
    m.put("id", id);
    m.put("type", "message");
    m.put("role", "assistant");
    m.put("model", model);
    m.putArray("content");
    m.put("stop_reason", stopReason);
    m.putNull("stop_sequence");
    if (usage != null) {
      m.set("usage", usage(usage, usage.completionTokens()));
    }
    return m;
  }

  /**
   * Usage as Anthropic reports it: {@code input_tokens} without the cache read and creation tokens,
   * so the three add up to the counted prompt.
   */
  ObjectNode usage(Usage usage, int outputTokens) {
    ObjectNode u = mapper.createObjectNode();
    u.put(
        "input_tokens", usage.promptTokens() - usage.cachedTokens() - usage.cacheCreationTokens());
    u.put("cache_creation_input_tokens", usage.cacheCreationTokens());
    u.put("cache_read_input_tokens", usage.cachedTokens());
    ObjectNode byTtl = u.putObject("cache_creation");
    byTtl.put("ephemeral_5m_input_tokens", usage.cacheCreationTokens());
    byTtl.put("ephemeral_1h_input_tokens", 0);
    u.put("output_tokens", outputTokens);
    u.put("service_tier", "standard");
    return u;
  }

  /** An event body: {@code {"type": <type>}}. */
  ObjectNode event(String type) {
    return mapper.createObjectNode().put("type", type);
  }
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.pricing.Usage;
import java.util.Optional;

/** Reads the OpenAI {@code usage} object: prompt, completion, cached and reasoning tokens. */
public final class UsageParser {

  private UsageParser() {}

  /** The usage in a completion or stream chunk, or empty when it carries none. */
  public static Optional<Usage> from(JsonNode root) {
    if (root == null) {
      return Optional.empty();
    }
    return fromUsage(root.get("usage"));
  }

  /**
   * The usage object itself (a completion's or chunk's {@code usage}), or empty when it is not one.
   */
  public static Optional<Usage> fromUsage(JsonNode usage) {
    if (usage == null || !usage.isObject()) {
      return Optional.empty();
    }
    long prompt = count(usage.get("prompt_tokens"));
    long completion = count(usage.get("completion_tokens"));
    long cached = count(usage.path("prompt_tokens_details").get("cached_tokens"));
    long reasoning = count(usage.path("completion_tokens_details").get("reasoning_tokens"));
    return Optional.of(new Usage(prompt, completion, cached, reasoning));
  }

  /** A token count; anything but a non-negative integer counts as zero. */
  private static long count(JsonNode node) {
    if (node == null || !node.canConvertToLong()) {
      return 0;
    }
    long v = node.asLong();
    return Math.max(v, 0);
  }
}

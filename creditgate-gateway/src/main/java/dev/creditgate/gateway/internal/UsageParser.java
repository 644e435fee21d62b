package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.pricing.Usage;
import java.util.Optional;

/**
 * Reads the OpenAI {@code usage} object: prompt, completion, cached and reasoning tokens. A usage
 * is read only when it is whole: {@code prompt_tokens} and {@code completion_tokens} present, every
 * count a non-negative integer that fits a long, cached tokens at most the prompt's and reasoning
 * tokens at most the completion's. Anything else is {@link Report.Kind#MALFORMED}, never read as
 * zero: the caller charges its own estimate instead.
 */
public final class UsageParser {

  private UsageParser() {}

  /**
   * What an answer says of its usage.
   *
   * @param usage the usage when {@link Kind#VALID}, else null
   * @param problem what is wrong with a {@link Kind#MALFORMED} usage, else empty
   */
  public record Report(Kind kind, Usage usage, String problem) {

    public static final Report ABSENT = new Report(Kind.ABSENT, null, "");

    public enum Kind {
      /** No {@code usage}, or {@code null}. */
      ABSENT,
      /** A whole usage object. */
      VALID,
      /** A {@code usage} that is there and cannot be read as one. */
      MALFORMED
    }

    static Report valid(Usage usage) {
      return new Report(Kind.VALID, usage, "");
    }

    static Report malformed(String problem) {
      return new Report(Kind.MALFORMED, null, problem);
    }
  }

  /** The usage of a completion or stream chunk. */
  public static Report report(JsonNode root) {
    if (root == null || !root.isObject()) {
      return Report.ABSENT;
    }
    return reportUsage(root.get("usage"));
  }

  /** The usage object itself (a completion's or chunk's {@code usage}). */
  public static Report reportUsage(JsonNode usage) {
    if (usage == null || usage.isNull() || usage.isMissingNode()) {
      return Report.ABSENT;
    }
    if (!usage.isObject()) {
      return Report.malformed("usage is not an object");
    }
    long prompt = count(usage, "prompt_tokens", true);
    long completion = count(usage, "completion_tokens", true);
    long cached = count(details(usage, "prompt_tokens_details"), "cached_tokens", false);
    long reasoning = count(details(usage, "completion_tokens_details"), "reasoning_tokens", false);
    if (prompt < 0) {
      return Report.malformed("prompt_tokens is missing or not a non-negative integer");
    }
    if (completion < 0) {
      return Report.malformed("completion_tokens is missing or not a non-negative integer");
    }
    if (cached < 0 || cached > prompt) {
      return Report.malformed("cached_tokens is not a non-negative integer within prompt_tokens");
    }
    if (reasoning < 0 || reasoning > completion) {
      return Report.malformed(
          "reasoning_tokens is not a non-negative integer within completion_tokens");
    }
    return Report.valid(new Usage(prompt, completion, cached, reasoning));
  }

  /** The usage in a completion or stream chunk when it is whole, else empty. */
  public static Optional<Usage> from(JsonNode root) {
    return Optional.ofNullable(report(root).usage());
  }

  /** A details object; null when absent, a non-object node (which fails its counts) otherwise. */
  private static JsonNode details(JsonNode usage, String field) {
    JsonNode node = usage.get(field);
    return node == null || node.isNull() ? null : node;
  }

  /**
   * A count: -1 when it is not a non-negative integer that fits a long, or when it is missing and
   * {@code required}; 0 when it is missing and optional.
   */
  private static long count(JsonNode parent, String field, boolean required) {
    if (parent == null) {
      return 0;
    }
    if (!parent.isObject()) {
      return -1;
    }
    JsonNode node = parent.get(field);
    if (node == null || node.isNull()) {
      return required ? -1 : 0;
    }
    if (!node.isIntegralNumber() || !node.canConvertToLong()) {
      return -1;
    }
    long v = node.asLong();
    return v < 0 ? -1 : v;
  }
}

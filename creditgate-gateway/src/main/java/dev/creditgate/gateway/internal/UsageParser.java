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

  /**
   * The names of a usage object's counts in one API.
   *
   * @param input the input count, cached tokens included
   * @param output the output count, reasoning tokens included; empty for an API without output
   * @param inputDetails the object holding {@code cached}, and its field
   * @param outputDetails the object holding {@code reasoning}, and its field
   */
  record Shape(
      String input,
      String output,
      String inputDetails,
      String cached,
      String outputDetails,
      String reasoning) {}

  /** Chat Completions' usage. */
  static final Shape CHAT =
      new Shape(
          "prompt_tokens",
          "completion_tokens",
          "prompt_tokens_details",
          "cached_tokens",
          "completion_tokens_details",
          "reasoning_tokens");

  /** The usage object itself (a completion's or chunk's {@code usage}). */
  public static Report reportUsage(JsonNode usage) {
    return reportUsage(usage, CHAT);
  }

  /** A usage object of the given shape. */
  static Report reportUsage(JsonNode usage, Shape shape) {
    if (usage == null || usage.isNull() || usage.isMissingNode()) {
      return Report.ABSENT;
    }
    if (!usage.isObject()) {
      return Report.malformed("usage is not an object");
    }
    long input = count(usage, shape.input(), true);
    long output = shape.output().isEmpty() ? 0 : count(usage, shape.output(), true);
    long cached = count(details(usage, shape.inputDetails()), shape.cached(), false);
    long reasoning = count(details(usage, shape.outputDetails()), shape.reasoning(), false);
    if (input < 0) {
      return Report.malformed(shape.input() + " is missing or not a non-negative integer");
    }
    if (output < 0) {
      return Report.malformed(shape.output() + " is missing or not a non-negative integer");
    }
    if (cached < 0 || cached > input) {
      return Report.malformed(
          shape.cached() + " is not a non-negative integer within " + shape.input());
    }
    if (reasoning < 0 || reasoning > output) {
      return Report.malformed(
          shape.reasoning() + " is not a non-negative integer within " + shape.output());
    }
    return Report.valid(new Usage(input, output, cached, reasoning));
  }

  /** The usage in a completion or stream chunk when it is whole, else empty. */
  public static Optional<Usage> from(JsonNode root) {
    return Optional.ofNullable(report(root).usage());
  }

  /** A details object; null when absent, a non-object node (which fails its counts) otherwise. */
  private static JsonNode details(JsonNode usage, String field) {
    JsonNode node = field.isEmpty() ? null : usage.get(field);
    return node == null || node.isNull() ? null : node;
  }

  /**
   * A count: -1 when it is not a non-negative integer that fits a long, or when it is missing and
   * {@code required}; 0 when it is missing and optional.
   */
  static long count(JsonNode parent, String field, boolean required) {
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

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.pricing.Usage;
import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;
import java.util.function.Function;

/**
 * Puts the credits a metered call was charged into its answer's {@code usage}, as {@link
 * SettleUsage#CHARGED_FIELD} beside the upstream's token counts, so a client that reads the body
 * (an SDK keeps unknown usage fields) learns the charge without the headers. An answer that has no
 * usage object, or one the call was not charged at (unreadable or implausible), gets one of the
 * usage it was charged for (the gateway's count), since a usage object without token counts fails
 * the OpenAI SDKs' validation. A call that is not metered keeps its body as the upstream sent it.
 */
final class ChargedUsage {

  private ChargedUsage() {}

  /**
   * A successful plain answer with the charge in its usage: {@code answer} itself when the call is
   * not metered or the answer is not a JSON object.
   *
   * @param charged the usage the call was settled at, written when the answer has no usage object
   *     or one the call was not charged at
   * @param reported whether the call was charged at the answer's own usage
   */
  static byte[] plain(
      byte[] answer, JsonNode parsed, Usage charged, boolean reported, OptionalLong credits) {
    return plain(answer, parsed, charged, reported, credits, ChargedUsage::counts);
  }

  /**
   * {@link #plain(byte[], JsonNode, Usage, boolean, OptionalLong)} for an API whose usage object
   * {@code counts} writes.
   */
  static byte[] plain(
      byte[] answer,
      JsonNode parsed,
      Usage charged,
      boolean reported,
      OptionalLong credits,
      Function<Usage, ObjectNode> counts) {
    if (credits.isEmpty()
        || !(parsed instanceof ObjectNode root)
        || !into(root, charged, reported, credits.getAsLong(), counts)) {
      return answer;
    }
    return Json.bytes(root);
  }

  /**
   * Puts the charge into {@code holder}'s {@code usage}: beside the reported counts when the call
   * was charged at them, else in a usage of the counts charged ({@code counts} writes it in the
   * API's shape). False when there is neither.
   */
  static boolean into(
      ObjectNode holder,
      Usage charged,
      boolean reported,
      long credits,
      Function<Usage, ObjectNode> counts) {
    if (reported && holder.get("usage") instanceof ObjectNode usage) {
      usage.put(SettleUsage.CHARGED_FIELD, credits);
    } else if (charged != null) {
      holder.set("usage", counts.apply(charged).put(SettleUsage.CHARGED_FIELD, credits));
    } else {
      return false;
    }
    return true;
  }

  /**
   * The usage event that ends a stream whose client asked for usage, then {@code [DONE]}: the
   * upstream's usage-only chunk (held back until the call was settled) with the charge added, or,
   * when the upstream sent none, a chunk of the usage the call was charged for. Empty when there is
   * nothing to write: no usage chunk came and the call is not metered or was not charged.
   *
   * @param upstreamChunk the upstream's last usage-only chunk, or null
   * @param charged the usage the call was settled at, or null when it was not settled
   * @param reported whether the call was charged at the usage the upstream reported (else the
   *     upstream chunk's usage is replaced by the usage charged)
   * @param fallbackId the {@code id} of a chunk the gateway makes
   * @param model the {@code model} of a chunk the gateway makes
   */
  static byte[] streamEvent(
      ObjectNode upstreamChunk,
      Usage charged,
      boolean reported,
      OptionalLong credits,
      String fallbackId,
      String model) {
    ObjectNode chunk = upstreamChunk;
    if (chunk != null) {
      if (credits.isPresent()) {
        ObjectNode usage =
            reported || charged == null ? (ObjectNode) chunk.get("usage") : counts(charged);
        usage.put(SettleUsage.CHARGED_FIELD, credits.getAsLong());
        chunk.set("usage", usage);
      }
    } else if (credits.isPresent() && charged != null) {
      chunk = Json.MAPPER.createObjectNode();
      chunk.put("id", fallbackId);
      chunk.put("object", "chat.completion.chunk");
      chunk.put("created", System.currentTimeMillis() / 1000);
      chunk.put("model", model);
      chunk.putArray("choices");
      chunk.set("usage", counts(charged).put(SettleUsage.CHARGED_FIELD, credits.getAsLong()));
    } else {
      return new byte[0];
    }
    return ("data: " + Json.string(chunk) + "\n\n").getBytes(StandardCharsets.UTF_8);
  }

  /** An OpenAI usage object of {@code usage}'s token counts. */
  static ObjectNode counts(Usage usage) {
    ObjectNode node = Json.MAPPER.createObjectNode();
    node.put("prompt_tokens", usage.inputTokens());
    node.put("completion_tokens", usage.outputTokens());
    node.put("total_tokens", usage.inputTokens() + usage.outputTokens());
    if (usage.cachedTokens() > 0) {
      node.putObject("prompt_tokens_details").put("cached_tokens", usage.cachedTokens());
    }
    if (usage.reasoningTokens() > 0) {
      node.putObject("completion_tokens_details").put("reasoning_tokens", usage.reasoningTokens());
    }
    return node;
  }
}

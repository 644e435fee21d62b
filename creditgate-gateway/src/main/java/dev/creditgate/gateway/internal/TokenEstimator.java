package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import dev.creditgate.pricing.Usage;

/**
 * Counts tokens with a real BPE tokenizer (jtokkit, {@code o200k_base}) when an upstream reports no
 * usage. The count follows OpenAI's chat accounting: a few tokens of framing per message and per
 * reply on top of the text. It is an estimate, and charges made from it are marked so.
 */
public final class TokenEstimator {

  private static final int TOKENS_PER_MESSAGE = 3;
  private static final int TOKENS_PER_REPLY = 3;

  private final Encoding encoding =
      Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.O200K_BASE);

  /** Estimated usage of a request's {@code messages} and a completion's text. */
  public Usage estimate(JsonNode request, String completion, long completionCharsDropped) {
    long prompt = 0;
    JsonNode messages = request.path("messages");
    if (messages.isArray()) {
      for (JsonNode m : messages) {
        prompt += TOKENS_PER_MESSAGE;
        prompt += count(m.path("role").asText(""));
        prompt += countContent(m.path("content"));
        if (m.has("name")) {
          prompt += count(m.path("name").asText("")) + 1;
        }
      }
    }
    prompt += TOKENS_PER_REPLY;
    long output = count(completion);
    if (completionCharsDropped > 0) {
      // Text beyond the kept window is counted at about four characters a token.
      output += (completionCharsDropped + 3) / 4;
    }
    return new Usage(prompt, output, 0, 0);
  }

  private long countContent(JsonNode content) {
    if (content.isTextual()) {
      return count(content.asText());
    }
    long n = 0;
    if (content.isArray()) {
      for (JsonNode part : content) {
        if (part.path("text").isTextual()) {
          n += count(part.path("text").asText());
        }
      }
    }
    return n;
  }

  long count(String text) {
    return text == null || text.isEmpty() ? 0 : encoding.countTokensOrdinary(text);
  }
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingRegistry;
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

  /** How a route's input tokens are counted before its calls. */
  public enum Tokenizer {
    /** OpenAI's encoding of the GPT-4o, GPT-4.1, o-series and GPT-5 families. */
    O200K_BASE,
    /** OpenAI's encoding of GPT-4 and GPT-3.5. */
    CL100K_BASE,
    /**
     * For a route whose tokenizer is unknown: one token per byte of the request body, a bound no
     * byte-level tokenizer exceeds (every token covers at least one byte).
     */
    BYTES
  }

  private static final EncodingRegistry REGISTRY = Encodings.newLazyEncodingRegistry();

  private final Encoding encoding = REGISTRY.getEncoding(EncodingType.O200K_BASE);
  private final Encoding cl100k = REGISTRY.getEncoding(EncodingType.CL100K_BASE);

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

  /**
   * The input tokens of a request before it is sent, counted with the route's tokenizer: the
   * messages with their framing, plus the text of any tool, function or response-format definitions
   * (which the provider counts as input too); with {@link Tokenizer#BYTES}, the body's size.
   */
  public long inputTokens(JsonNode request, Tokenizer tokenizer, long requestBytes) {
    if (tokenizer == Tokenizer.BYTES) {
      return requestBytes;
    }
    Encoding enc = tokenizer == Tokenizer.CL100K_BASE ? cl100k : encoding;
    long tokens = TOKENS_PER_REPLY;
    JsonNode messages = request.path("messages");
    for (JsonNode m : messages) {
      tokens += TOKENS_PER_MESSAGE + count(enc, m.path("role").asText(""));
      JsonNode content = m.path("content");
      if (content.isTextual()) {
        tokens += count(enc, content.asText());
      } else if (!content.isMissingNode() && !content.isNull()) {
        tokens += count(enc, content.toString());
      }
      if (m.has("name")) {
        tokens += count(enc, m.path("name").asText("")) + 1;
      }
      if (m.has("tool_calls")) {
        tokens += count(enc, m.get("tool_calls").toString());
      }
    }
    for (String field : new String[] {"tools", "functions", "response_format"}) {
      if (request.hasNonNull(field)) {
        tokens += count(enc, request.get(field).toString());
      }
    }
    return tokens;
  }

  /**
   * The tokens of a JSON value counted with {@code tokenizer}: a string's text, any other value's
   * JSON; nothing for a missing or null value. With {@link Tokenizer#BYTES}, its UTF-8 bytes.
   */
  long countValue(JsonNode value, Tokenizer tokenizer) {
    if (value == null || value.isMissingNode() || value.isNull()) {
      return 0;
    }
    String text = value.isTextual() ? value.asText() : value.toString();
    if (tokenizer == Tokenizer.BYTES) {
      return text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }
    return count(tokenizer == Tokenizer.CL100K_BASE ? cl100k : encoding, text);
  }

  /** The framing tokens of one message in a chat-like input (role markers and separators). */
  static long messageFraming() {
    return TOKENS_PER_MESSAGE;
  }

  /** The framing tokens that prime a reply. */
  static long replyFraming() {
    return TOKENS_PER_REPLY;
  }

  private static long count(Encoding enc, String text) {
    return text.isEmpty() ? 0 : enc.countTokensOrdinary(text);
  }

  long count(String text) {
    return text == null || text.isEmpty() ? 0 : encoding.countTokensOrdinary(text);
  }
}

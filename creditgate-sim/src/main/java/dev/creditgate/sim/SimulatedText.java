package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.SplittableRandom;

/**
 * Deterministic completion text and token counts. The same model and messages always give the same
 * words, and a smaller {@code max_tokens} gives a prefix of them, so tests can compare runs. One
 * word is one completion token; prompt tokens follow the usual rule of thumb for English (about 4
 * tokens per 3 words) plus a small per-message overhead, as chat formats add.
 */
final class SimulatedText {

  static final int MIN_WORDS = 8;
  static final int MAX_WORDS = 64;
  static final int TOKENS_PER_MESSAGE = 4;
  static final int TOKENS_PRIMING = 3;

  /** Providers cache prompt prefixes in blocks of this size once a prompt reaches 1,024 tokens. */
  static final int CACHE_BLOCK = 128;

  static final int CACHE_MIN_PROMPT = 1024;

  private static final String[] VOCABULARY = {
    "the",
    "simulated",
    "upstream",
    "answers",
    "with",
    "deterministic",
    "words",
    "chosen",
    "from",
    "a",
    "hash",
    "of",
    "your",
    "messages",
    "credit",
    "ledger",
    "balance",
    "request",
    "stream",
    "token",
    "model",
    "gateway",
    "account",
    "charge",
    "price",
    "usage",
    "reply",
    "quick",
    "steady",
    "plain",
    "text",
    "for",
    "testing",
    "only",
    "this",
    "is",
    "not",
    "an",
    "llm",
    "load",
    "latency",
    "rate",
    "chunk",
    "event",
    "server",
    "client",
    "and",
    "then",
    "every",
    "call",
    "counts",
    "cached",
    "reasoning",
    "prompt",
    "completion",
    "alias",
    "route",
    "budget",
    "limit",
    "admitted",
    "blocked",
    "grant",
    "entry",
    "simulator"
  };

  private SimulatedText() {}

  /**
   * What the simulated model says: the visible words, the hidden reasoning tokens, and whether the
   * output cap cut the words short. Output tokens are the words plus the reasoning.
   */
  record Answer(String[] words, int reasoningTokens, boolean cut) {

    int outputTokens() {
      return words.length + reasoningTokens;
    }

    String text() {
      return String.join(" ", words);
    }

    /** The text of the i-th output delta: the word, after a space unless it is the first. */
    String delta(int i) {
      return i == 0 ? words[0] : " " + words[i];
    }
  }

  /**
   * The answer for a seed under a cap on output tokens ({@link Integer#MAX_VALUE} for none).
   * Reasoning tokens come first and share the cap; the words are the prefix that still fits.
   */
  static Answer answer(long seed, int cap, int reasoningTokens) {
    int natural = naturalLength(seed);
    int reasoning = Math.min(reasoningTokens, cap);
    int visible = Math.min(natural, cap - reasoning);
    return new Answer(words(seed, visible), reasoning, visible < natural);
  }

  /** A 64-bit seed from the model and the messages' JSON. */
  static long seed(String model, byte[] messagesJson) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(model.getBytes(StandardCharsets.UTF_8));
      sha.update((byte) 0);
      sha.update(messagesJson);
      return ByteBuffer.wrap(sha.digest()).getLong();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java platform", e);
    }
  }

  /** How many words the simulated model would say if not limited, in [MIN_WORDS, MAX_WORDS]. */
  static int naturalLength(long seed) {
    return MIN_WORDS + (int) Math.floorMod(seed, (long) (MAX_WORDS - MIN_WORDS + 1));
  }

  /** The first {@code count} words for this seed; the last one ends with a full stop. */
  static String[] words(long seed, int count) {
    SplittableRandom random = new SplittableRandom(seed);
    String[] words = new String[count];
    for (int i = 0; i < count; i++) {
      words[i] = VOCABULARY[random.nextInt(VOCABULARY.length)];
    }
    if (count > 0) {
      words[0] = Character.toUpperCase(words[0].charAt(0)) + words[0].substring(1);
      words[count - 1] = words[count - 1] + ".";
    }
    return words;
  }

  /** Prompt tokens for a messages array: about 4/3 tokens per word plus per-message overhead. */
  static int promptTokens(JsonNode messages) {
    long words = 0;
    for (JsonNode message : messages) {
      words += countWords(message.get("content"));
    }
    long tokens =
        (words * 4 + 2) / 3 + (long) TOKENS_PER_MESSAGE * messages.size() + TOKENS_PRIMING;
    return (int) Math.min(Integer.MAX_VALUE, tokens);
  }

  /** Cached prompt tokens as a provider would report them: half the prompt, in whole blocks. */
  static int cachedTokens(int promptTokens) {
    if (promptTokens < CACHE_MIN_PROMPT) {
      return 0;
    }
    return promptTokens / 2 / CACHE_BLOCK * CACHE_BLOCK;
  }

  private static long countWords(JsonNode content) {
    if (content == null || content.isNull()) {
      return 0;
    }
    if (content.isTextual()) {
      return countWords(content.asText());
    }
    long words = 0;
    if (content.isArray()) {
      for (JsonNode part : content) {
        JsonNode text = part.get("text");
        if (text != null && text.isTextual()) {
          words += countWords(text.asText());
        }
      }
    }
    return words;
  }

  /**
   * Tokens of a text to embed: about 4/3 per word, at least 1 for a non-empty text (no message
   * overhead, as embedding models add none).
   */
  static int embeddingTokens(String text) {
    long tokens = (countWords(text) * 4 + 2) / 3;
    if (tokens == 0 && !text.isEmpty()) {
      tokens = 1;
    }
    return (int) Math.min(Integer.MAX_VALUE, tokens);
  }

  static long countWords(String text) {
    long words = 0;
    boolean inWord = false;
    for (int i = 0; i < text.length(); i++) {
      boolean space = Character.isWhitespace(text.charAt(i));
      if (!space && !inWord) {
        words++;
      }
      inWord = !space;
    }
    return words;
  }
}

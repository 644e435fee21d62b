package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.creditgate.pricing.Usage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Watches a server-sent-event stream as it passes through, without holding it: it keeps the largest
 * usage value seen per field among whole usage objects (a later chunk may repeat or revise an
 * earlier one), whether a usage it could not read came, and the output generated (the text of the
 * content, reasoning and refusal deltas and of tool and function call names and arguments), for an
 * estimate when the upstream reports no usable usage. Lines are split on LF; a partial line waits
 * for the next bytes.
 */
public final class SseScanner {

  /** Lines longer than this are skipped, not buffered without bound. */
  static final int MAX_LINE_BYTES = 4 * 1024 * 1024;

  /** Completion text kept for the estimate; beyond this the estimate scales by bytes. */
  static final int MAX_TEXT_CHARS = 2 * 1024 * 1024;

  private static final byte[] DATA = "data:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

  /** Reads one value inside a chunk (the mapper's own reading wants nothing after the value). */
  private static final ObjectReader SUBTREE =
      Json.MAPPER.reader().without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private final StringBuilder text = new StringBuilder();

  /** Pieces of completion text seen (deltas with text), whether kept or dropped. */
  private long outputPieces;

  /** A line split across reads: its bytes so far. A line that arrives whole is never copied. */
  private byte[] partial = new byte[256];

  private int partialLen;
  private boolean overlong;
  private Usage usage;
  private String usageProblem;
  private boolean done;

  /** Whether a usage-only chunk (empty {@code choices}) with a whole usage came. */
  private boolean usageOnlyChunk;

  private long textBytesDropped;
  // One chunk's findings, filled by scanChunk and kept only once the whole chunk parsed.
  private Usage chunkUsage;
  private String chunkUsageProblem;
  private boolean chunkChoicesEmpty;
  private final ArrayList<String> chunkTexts = new ArrayList<>();

  public void feed(byte[] buf, int off, int len) {
    int end = off + len;
    int start = off;
    for (int nl = indexOf(buf, (byte) '\n', start, end);
        nl >= 0;
        nl = indexOf(buf, (byte) '\n', start, end)) {
      if (overlong) {
        overlong = false;
      } else if (partialLen == 0) {
        onLine(buf, start, nl - start);
      } else if (append(buf, start, nl - start)) {
        onLine(partial, 0, partialLen);
      }
      partialLen = 0;
      start = nl + 1;
    }
    if (start < end && !overlong && !append(buf, start, end - start)) {
      overlong = true;
    }
  }

  /**
   * Adds to the partial line; false (and the partial line dropped) when it would exceed the limit.
   */
  private boolean append(byte[] b, int off, int len) {
    if (partialLen + len > MAX_LINE_BYTES) {
      partialLen = 0;
      return false;
    }
    if (partialLen + len > partial.length) {
      partial =
          Arrays.copyOf(
              partial, Math.min(MAX_LINE_BYTES, Math.max(partial.length * 2, partialLen + len)));
    }
    System.arraycopy(b, off, partial, partialLen, len);
    partialLen += len;
    return true;
  }

  static int indexOf(byte[] b, byte c, int from, int to) {
    for (int i = from; i < to; i++) {
      if (b[i] == c) {
        return i;
      }
    }
    return -1;
  }

  private void onLine(byte[] b, int off, int len) {
    int p = off + DATA.length;
    int e = off + len;
    if (len < DATA.length || !Arrays.equals(b, off, p, DATA, 0, DATA.length)) {
      return;
    }
    while (p < e && (b[p] == ' ' || b[p] == '\t')) {
      p++;
    }
    while (e > p && (b[e - 1] == '\r' || b[e - 1] == ' ' || b[e - 1] == '\t')) {
      e--;
    }
    if (Arrays.equals(b, p, e, DONE, 0, DONE.length)) {
      done = true;
      return;
    }
    if (p == e || b[p] != '{') {
      return;
    }
    try (JsonParser parser = Json.MAPPER.createParser(b, p, e - p)) {
      scanChunk(parser);
    } catch (IOException | RuntimeException ex) {
      // Not a JSON object: the line is ignored, as an unparsable chunk tells nothing.
      return;
    }
    if (chunkUsage != null) {
      usage = usage == null ? chunkUsage : usage.max(chunkUsage);
      usageOnlyChunk |= chunkChoicesEmpty;
    }
    if (chunkUsageProblem != null) {
      usageProblem = chunkUsageProblem;
    }
    for (int i = 0; i < chunkTexts.size(); i++) {
      appendText(chunkTexts.get(i));
    }
  }

  /**
   * Reads one chunk with a streaming parser (a tree per chunk was a tenth of the gateway's
   * allocation): its {@code usage} and the output of each choice's delta: {@code content}, {@code
   * reasoning_content}, {@code refusal}, then the {@code name} and {@code arguments} of its {@code
   * tool_calls} and {@code function_call}. A key given twice counts once, its last value, as in a
   * tree; anything after the object fails the chunk.
   */
  private void scanChunk(JsonParser parser) throws IOException {
    chunkUsage = null;
    chunkUsageProblem = null;
    chunkChoicesEmpty = false;
    chunkTexts.clear();
    if (parser.nextToken() != JsonToken.START_OBJECT) {
      throw new IOException("not an object");
    }
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      JsonToken value = parser.nextToken();
      if ("usage".equals(name)) {
        UsageParser.Report report = UsageParser.reportUsage(SUBTREE.readTree(parser));
        chunkUsage = report.usage();
        chunkUsageProblem =
            report.kind() == UsageParser.Report.Kind.MALFORMED ? report.problem() : null;
      } else if ("choices".equals(name)) {
        chunkTexts.clear();
        chunkChoicesEmpty = false;
        if (value != JsonToken.START_ARRAY) {
          parser.skipChildren();
          continue;
        }
        chunkChoicesEmpty = true;
        while (parser.nextToken() != JsonToken.END_ARRAY) {
          chunkChoicesEmpty = false;
          if (parser.currentToken() == JsonToken.START_OBJECT) {
            scanChoice(parser);
          } else {
            parser.skipChildren();
          }
        }
      } else {
        parser.skipChildren();
      }
    }
    if (parser.nextToken() != null) {
      throw new IOException("trailing content after the chunk");
    }
  }

  /** One choice object, the parser on its start: keeps its delta's output. */
  private void scanChoice(JsonParser parser) throws IOException {
    String content = null;
    String reasoning = null;
    String refusal = null;
    List<String> toolCalls = List.of();
    List<String> functionCall = List.of();
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      JsonToken value = parser.nextToken();
      if (!"delta".equals(name)) {
        parser.skipChildren();
        continue;
      }
      content = null;
      reasoning = null;
      refusal = null;
      toolCalls = List.of();
      functionCall = List.of();
      if (value != JsonToken.START_OBJECT) {
        parser.skipChildren();
        continue;
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken v = parser.nextToken();
        switch (field) {
          case "content" -> content = v == JsonToken.VALUE_STRING ? parser.getText() : null;
          case "reasoning_content" ->
              reasoning = v == JsonToken.VALUE_STRING ? parser.getText() : null;
          case "refusal" -> refusal = v == JsonToken.VALUE_STRING ? parser.getText() : null;
          case "tool_calls" -> toolCalls = toolCalls(parser);
          case "function_call" -> functionCall = function(parser);
          default -> {}
        }
        // A value not read above is skipped whole; after one read, the parser is on its end.
        parser.skipChildren();
      }
    }
    if (content != null) {
      chunkTexts.add(content);
    }
    if (reasoning != null) {
      chunkTexts.add(reasoning);
    }
    if (refusal != null) {
      chunkTexts.add(refusal);
    }
    chunkTexts.addAll(toolCalls);
    chunkTexts.addAll(functionCall);
  }

  /** The names and arguments of a {@code tool_calls} value, the parser on it. */
  private static List<String> toolCalls(JsonParser parser) throws IOException {
    if (parser.currentToken() != JsonToken.START_ARRAY) {
      parser.skipChildren();
      return List.of();
    }
    List<String> texts = new ArrayList<>(2);
    while (parser.nextToken() != JsonToken.END_ARRAY) {
      if (parser.currentToken() != JsonToken.START_OBJECT) {
        parser.skipChildren();
        continue;
      }
      List<String> call = List.of();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        parser.nextToken();
        if ("function".equals(field)) {
          call = function(parser);
        } else {
          parser.skipChildren();
        }
      }
      texts.addAll(call);
    }
    return texts;
  }

  /**
   * A function object's {@code name} and {@code arguments} (the last of each), the parser on it.
   */
  private static List<String> function(JsonParser parser) throws IOException {
    if (parser.currentToken() != JsonToken.START_OBJECT) {
      parser.skipChildren();
      return List.of();
    }
    String name = null;
    String arguments = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String field = parser.currentName();
      JsonToken v = parser.nextToken();
      if ("name".equals(field)) {
        name = v == JsonToken.VALUE_STRING ? parser.getText() : null;
      } else if ("arguments".equals(field)) {
        arguments = v == JsonToken.VALUE_STRING ? parser.getText() : null;
      }
      parser.skipChildren();
    }
    List<String> texts = new ArrayList<>(2);
    if (name != null) {
      texts.add(name);
    }
    if (arguments != null) {
      texts.add(arguments);
    }
    return texts;
  }

  private void appendText(String t) {
    if (!t.isEmpty()) {
      outputPieces++;
    }
    if (text.length() + t.length() <= MAX_TEXT_CHARS) {
      text.append(t);
    } else {
      textBytesDropped += t.length();
    }
  }

  /**
   * The usage the stream reported (largest value per field of its whole usage objects), or null
   * when it reported none.
   */
  public Usage usage() {
    return usage;
  }

  /**
   * What the stream said of its usage: {@link #usage()} when it reported a whole one, else the last
   * usage it sent that could not be read, else absent.
   */
  public UsageParser.Report usageReport() {
    if (usage != null) {
      return UsageParser.Report.valid(usage);
    }
    return usageProblem != null
        ? UsageParser.Report.malformed(usageProblem)
        : UsageParser.Report.ABSENT;
  }

  /**
   * The pieces of output seen so far (non-empty texts of deltas: content, reasoning, refusal, a
   * call's name or a fragment of its arguments; every choice counted). A provider sends at least
   * one token per piece, so an upstream that keeps to its output cap never sends more pieces than
   * the cap, and one that sent this many used at least as many tokens.
   */
  public long outputPieces() {
    return outputPieces;
  }

  /**
   * Whether the stream's closing usage came: a usage-only chunk (empty {@code choices}) with a
   * whole usage, and a usage that accounts for a token per piece of output seen. A usage that came
   * earlier (a prompt count at the start, say) is not the end of the stream.
   */
  public boolean closingUsageSeen() {
    return usageOnlyChunk && usage != null && usage.outputTokens() >= outputPieces;
  }

  /** Whether the {@code [DONE]} sentinel was seen. */
  public boolean done() {
    return done;
  }

  public String text() {
    return text.toString();
  }

  /** Characters of completion text not kept because of {@link #MAX_TEXT_CHARS}. */
  public long textDropped() {
    return textBytesDropped;
  }
}

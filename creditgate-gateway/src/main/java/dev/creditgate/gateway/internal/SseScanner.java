package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.pricing.Usage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Watches a server-sent-event stream as it passes through, without holding it: it keeps the
 * largest usage value seen per field (as the seed takes a stream's usage) and the completion text,
 * for an estimate when the upstream reports no usage. Lines are split on LF; a partial line waits
 * for the next bytes.
 */
public final class SseScanner {

  /** Lines longer than this are skipped, not buffered without bound. */
  static final int MAX_LINE_BYTES = 4 * 1024 * 1024;
  /** Completion text kept for the estimate; beyond this the estimate scales by bytes. */
  static final int MAX_TEXT_CHARS = 2 * 1024 * 1024;

  private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
  private final StringBuilder text = new StringBuilder();
  private boolean overlong;
  private Usage usage;
  private boolean done;
  private long textBytesDropped;

  public void feed(byte[] buf, int off, int len) {
    for (int i = off; i < off + len; i++) {
      byte b = buf[i];
      if (b == '\n') {
        if (!overlong) {
          onLine(line.toString(StandardCharsets.UTF_8));
        }
        line.reset();
        overlong = false;
      } else if (!overlong) {
        if (line.size() >= MAX_LINE_BYTES) {
          overlong = true;
          line.reset();
        } else {
          line.write(b);
        }
      }
    }
  }

  private void onLine(String raw) {
    String s = raw.endsWith("\r") ? raw.substring(0, raw.length() - 1) : raw;
    if (!s.startsWith("data:")) {
      return;
    }
    String data = s.substring(5).trim();
    if (data.equals("[DONE]")) {
      done = true;
      return;
    }
    if (data.isEmpty() || data.charAt(0) != '{') {
      return;
    }
    JsonNode node;
    try {
      node = Json.MAPPER.readTree(data);
    } catch (Exception e) {
      return;
    }
    UsageParser.from(node).ifPresent(u -> usage = usage == null ? u : usage.max(u));
    JsonNode choices = node.get("choices");
    if (choices != null && choices.isArray()) {
      for (JsonNode choice : choices) {
        appendText(choice.path("delta").path("content"));
        appendText(choice.path("delta").path("reasoning_content"));
      }
    }
  }

  private void appendText(JsonNode node) {
    if (node.isTextual()) {
      String t = node.asText();
      if (text.length() + t.length() <= MAX_TEXT_CHARS) {
        text.append(t);
      } else {
        textBytesDropped += t.length();
      }
    }
  }

  /** The usage the stream reported (largest value per field), or null when it reported none. */
  public Usage usage() {
    return usage;
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

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Hides the usage-only chunk from a client that did not ask for it. The gateway always asks the
 * upstream for {@code stream_options.include_usage} so it can charge; a client that did not ask
 * would otherwise get an extra chunk with empty {@code choices}, which naive clients index into.
 * Works line by line: each complete line is passed on at once, so the stream is still relayed as
 * it arrives.
 */
final class UsageChunkFilter {

  private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
  private boolean skipBlank;

  /** The bytes to forward for this read: every line it completed, minus usage-only events. */
  byte[] feed(byte[] buf, int off, int len) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(len);
    for (int i = off; i < off + len; i++) {
      line.write(buf[i]);
      if (buf[i] == '\n') {
        byte[] complete = line.toByteArray();
        line.reset();
        if (keep(complete)) {
          out.writeBytes(complete);
        }
      }
    }
    return out.toByteArray();
  }

  /** What is left of an unterminated last line. */
  byte[] finish() {
    byte[] rest = line.toByteArray();
    line.reset();
    return rest;
  }

  private boolean keep(byte[] complete) {
    if (skipBlank) {
      skipBlank = false;
      if (isBlank(complete)) {
        return false;
      }
    }
    if (complete.length < 6 || complete[0] != 'd') {
      return true;
    }
    String text = new String(complete, StandardCharsets.UTF_8);
    if (!text.startsWith("data:") || !text.contains("\"usage\"")) {
      return true;
    }
    try {
      JsonNode node = Json.MAPPER.readTree(text.substring(5).trim());
      boolean usageOnly = node.path("usage").isObject() && node.path("choices").isArray()
          && node.path("choices").isEmpty();
      if (usageOnly) {
        skipBlank = true;
        return false;
      }
    } catch (Exception e) {
      return true;
    }
    return true;
  }

  private static boolean isBlank(byte[] line) {
    return line.length == 1 || (line.length == 2 && line[0] == '\r');
  }
}

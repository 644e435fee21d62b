package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.pricing.Usage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A stream of typed server-sent events ({@code event: <type>} and a JSON {@code data:} line, the
 * Responses and Messages APIs' streams): splits it into whole events, relays each as soon as it is
 * complete, and lets the API ({@link #onEvent}) read each one's usage and output and hold back the
 * events that close the stream, which are written again, with the charge, once the call is settled
 * ({@link #closing}). Once an event is held, everything after it is held too.
 *
 * <p>Memory is bounded: an event longer than {@link #MAX_EVENT_BYTES} is relayed as it comes
 * without being read (its usage and output are then unknown to the gateway, which charges its own
 * count), and output text beyond {@link SseScanner#MAX_TEXT_CHARS} is counted, not kept.
 */
abstract class EventStream implements AnswerStream {

  static final int MAX_EVENT_BYTES = SseScanner.MAX_LINE_BYTES;

  /** What to do with an event. */
  enum Action {
    /** Relay it now. */
    PASS,
    /** Hold it until the call is settled ({@link #closing}). */
    HOLD
  }

  /** A held event: its type and data, to be written again. */
  record Held(String type, ObjectNode data) {}

  private byte[] event = new byte[1024];
  private int eventLen;

  /** Whether the event being read outgrew the limit and is relayed unread. */
  private boolean overlong;

  /** Whether the bytes so far since the last event ended are only blank lines. */
  private boolean lineStart = true;

  private final List<Held> held = new ArrayList<>(2);
  private final ByteArrayOutputStream heldRaw = new ByteArrayOutputStream();
  private boolean holding;

  private final StringBuilder text = new StringBuilder();
  private long textDropped;
  private long outputPieces;
  private UsageParser.Report report = UsageParser.Report.ABSENT;

  /** The pieces of output the call pays for. */
  private final long budget;

  private boolean cutOff;

  EventStream(long budget) {
    this.budget = budget;
  }

  @Override
  public void feed(byte[] buf, int off, int len, OutputStream client) throws IOException {
    if (cutOff) {
      return;
    }
    int end = off + len;
    int start = off;
    for (int nl = SseScanner.indexOf(buf, (byte) '\n', start, end);
        nl >= 0;
        nl = SseScanner.indexOf(buf, (byte) '\n', start, end)) {
      line(buf, start, nl + 1 - start, client);
      start = nl + 1;
      if (cutOff) {
        return;
      }
    }
    if (start < end) {
      partial(buf, start, end - start, client);
    }
  }

  /** A whole line, with its LF. */
  private void line(byte[] b, int off, int len, OutputStream client) throws IOException {
    boolean blank = len == 1 || (len == 2 && b[off] == '\r');
    if (overlong) {
      relay(b, off, len, client);
      if (blank && lineStart) {
        overlong = false;
      }
      lineStart = true;
      return;
    }
    if (!append(b, off, len, client)) {
      return;
    }
    if (blank && lineStart) {
      complete(client);
    }
    lineStart = true;
  }

  /** The start of a line whose end has not come yet. */
  private void partial(byte[] b, int off, int len, OutputStream client) throws IOException {
    if (overlong) {
      relay(b, off, len, client);
    } else {
      append(b, off, len, client);
    }
    lineStart = false;
  }

  /**
   * Adds bytes to the event being read; false when that made it overlong (what was read of it is
   * then relayed, and the rest will be).
   */
  private boolean append(byte[] b, int off, int len, OutputStream client) throws IOException {
    if (eventLen + len > MAX_EVENT_BYTES) {
      relay(event, 0, eventLen, client);
      relay(b, off, len, client);
      eventLen = 0;
      overlong = true;
      return false;
    }
    if (eventLen + len > event.length) {
      event =
          Arrays.copyOf(
              event, Math.min(MAX_EVENT_BYTES, Math.max(event.length * 2, eventLen + len)));
    }
    System.arraycopy(b, off, event, eventLen, len);
    eventLen += len;
    return true;
  }

  private void relay(byte[] b, int off, int len, OutputStream client) throws IOException {
    if (holding) {
      heldRaw.write(b, off, len);
    } else if (client != null) {
      client.write(b, off, len);
    }
  }

  /** An event ended (its blank line is in the buffer): reads it, then relays or holds it. */
  private void complete(OutputStream client) throws IOException {
    int len = eventLen;
    eventLen = 0;
    String type = null;
    StringBuilder data = null;
    int p = 0;
    while (p < len) {
      int nl = SseScanner.indexOf(event, (byte) '\n', p, len);
      int e = nl < 0 ? len : nl;
      int lineEnd = e > p && event[e - 1] == '\r' ? e - 1 : e;
      String line = new String(event, p, lineEnd - p, StandardCharsets.UTF_8);
      if (line.startsWith("event:")) {
        type = line.substring(6).trim();
      } else if (line.startsWith("data:")) {
        String value = line.substring(5);
        value = value.startsWith(" ") ? value.substring(1) : value;
        data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
      }
      p = e + 1;
    }
    JsonNode parsed = data == null ? null : Json.parseOrNull(data.toString());
    if (parsed instanceof ObjectNode object) {
      if (type == null && object.path("type").isTextual()) {
        type = object.path("type").asText();
      }
      if (!holding && onEvent(type == null ? "" : type, object) == Action.HOLD) {
        holding = true;
        held.add(new Held(type, object));
        return;
      }
      if (!holding && outputPieces > budget && !closed()) {
        // Past what the call pays for: this event and everything after it stay with the gateway.
        cutOff = true;
        return;
      }
    }
    if (holding && parsed instanceof ObjectNode object) {
      held.add(new Held(type, object));
      return;
    }
    relay(event, 0, len, client);
  }

  @Override
  public boolean cutOff() {
    return cutOff;
  }

  @Override
  public void finish(OutputStream client) throws IOException {
    if (eventLen > 0 && !cutOff) {
      // An event the upstream did not end with a blank line: relayed as it came, unread.
      relay(event, 0, eventLen, client);
      eventLen = 0;
    }
  }

  /**
   * Reads one whole event, whose data is a JSON object.
   *
   * @param type its {@code event:} name, else its data's {@code type}, else empty
   * @return whether to relay it or hold it until the call is settled
   */
  abstract Action onEvent(String type, ObjectNode data);

  /**
   * The events that close a settled stream, written with the charge: for each held event, its
   * bytes.
   *
   * @param held the events held, in order; empty when the stream never closed
   */
  abstract byte[] closing(CallExchange x, SettleUsage.Charge charge, List<Held> held);

  @Override
  public byte[] end(CallExchange x, SettleUsage.Charge charge) {
    byte[] closing = closing(x, charge, held);
    byte[] raw = heldRaw.toByteArray();
    byte[] out = Arrays.copyOf(closing, closing.length + raw.length);
    System.arraycopy(raw, 0, out, closing.length, raw.length);
    return out;
  }

  /** A piece of output: a non-empty text delta. */
  final void output(JsonNode delta) {
    if (!delta.isTextual() || delta.asText().isEmpty()) {
      return;
    }
    String t = delta.asText();
    outputPieces++;
    if (text.length() + t.length() <= SseScanner.MAX_TEXT_CHARS) {
      text.append(t);
    } else {
      textDropped += t.length();
    }
  }

  /**
   * A usage the stream reported: a whole one is merged with those before it (largest value per
   * field), an unreadable one is remembered only while no whole one came.
   */
  final void usage(UsageParser.Report r) {
    if (r.kind() == UsageParser.Report.Kind.VALID) {
      Usage prior = report.kind() == UsageParser.Report.Kind.VALID ? report.usage() : null;
      report = UsageParser.Report.valid(prior == null ? r.usage() : prior.max(r.usage()));
    } else if (r.kind() == UsageParser.Report.Kind.MALFORMED
        && report.kind() != UsageParser.Report.Kind.VALID) {
      report = r;
    }
  }

  /** An event in SSE form. */
  static byte[] event(String type, JsonNode data) {
    return ("event: " + type + "\ndata: " + Json.string(data) + "\n\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** The concatenation of events. */
  static byte[] concat(List<byte[]> parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }

  @Override
  public UsageParser.Report usageReport() {
    return report;
  }

  @Override
  public long outputPieces() {
    return outputPieces;
  }

  @Override
  public String text() {
    return text.toString();
  }

  @Override
  public long textDropped() {
    return textDropped;
  }
}

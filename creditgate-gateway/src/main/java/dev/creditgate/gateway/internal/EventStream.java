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
 * ({@link #closing}). Once an event is held, every event after it is held too (and still read).
 *
 * <p>Nothing past the call's output budget is relayed: the event whose output goes past it, and all
 * after, stay with the gateway ({@link #cutOff()}). A client that fails mid-read does not stop the
 * reading: the rest of the bytes are still read, for the usage they carry.
 *
 * <p>Memory is bounded: an event longer than {@link #MAX_EVENT_BYTES} is relayed as it comes
 * without being read (its usage and output are then unknown to the gateway, which charges its own
 * count); events held past {@link #MAX_HELD_BYTES} end the stream as a cut-off; output text beyond
 * {@link SseScanner#MAX_TEXT_CHARS} is counted, not kept.
 */
abstract class EventStream implements AnswerStream {

  static final int MAX_EVENT_BYTES = SseScanner.MAX_LINE_BYTES;

  /** The most bytes of events held for after the charge. */
  static final int MAX_HELD_BYTES = 1024 * 1024;

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

  /** The bytes of the current line so far (across reads), and its first byte. */
  private int lineLen;

  private byte lineFirst;

  /** Whether the lines of the current event so far are all blank. */
  private boolean eventBlank = true;

  private final List<Held> held = new ArrayList<>(2);
  private final ByteArrayOutputStream heldRaw = new ByteArrayOutputStream();
  private long heldBytes;
  private boolean holding;

  private final StringBuilder text = new StringBuilder();
  private long textDropped;
  private long outputPieces;
  private UsageParser.Report report = UsageParser.Report.ABSENT;

  /** The pieces of output the call pays for. */
  private final long budget;

  private boolean cutOff;

  /** The client during one {@link #feed}; null once it failed or left. */
  private OutputStream client;

  private IOException clientFailure;

  EventStream(long budget) {
    this.budget = budget;
  }

  @Override
  public void feed(byte[] buf, int off, int len, OutputStream to) throws IOException {
    if (cutOff) {
      return;
    }
    client = to;
    clientFailure = null;
    int end = off + len;
    int start = off;
    for (int nl = SseScanner.indexOf(buf, (byte) '\n', start, end);
        nl >= 0 && !cutOff;
        nl = SseScanner.indexOf(buf, (byte) '\n', start, end)) {
      line(buf, start, nl + 1 - start);
      start = nl + 1;
    }
    if (start < end && !cutOff) {
      partial(buf, start, end - start);
    }
    client = null;
    if (clientFailure != null) {
      throw clientFailure;
    }
  }

  /** The end of a line, with its LF (its start may have come in an earlier read). */
  private void line(byte[] b, int off, int len) {
    if (lineLen == 0) {
      lineFirst = b[off];
    }
    int total = lineLen + len;
    boolean blank = total == 1 || (total == 2 && lineFirst == '\r');
    lineLen = 0;
    if (overlong) {
      relay(b, off, len);
      if (blank) {
        overlong = false;
      }
      return;
    }
    if (!append(b, off, len)) {
      return;
    }
    if (blank && !eventBlank) {
      complete();
    } else if (blank) {
      // A blank line between events: relayed as it came.
      relay(event, 0, eventLen);
      eventLen = 0;
    } else {
      eventBlank = false;
    }
  }

  /** The start of a line whose end has not come yet. */
  private void partial(byte[] b, int off, int len) {
    if (lineLen == 0) {
      lineFirst = b[off];
    }
    lineLen += len;
    if (overlong) {
      relay(b, off, len);
    } else {
      append(b, off, len);
    }
  }

  /**
   * Adds bytes to the event being read; false when that made it overlong (what was read of it is
   * then relayed, and the rest will be).
   */
  private boolean append(byte[] b, int off, int len) {
    if (eventLen + len > MAX_EVENT_BYTES) {
      relay(event, 0, eventLen);
      relay(b, off, len);
      eventLen = 0;
      eventBlank = true;
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

  /** Writes to the client, or holds when holding; a client's failure is kept for the caller. */
  private void relay(byte[] b, int off, int len) {
    if (holding) {
      heldRaw.write(b, off, len);
      held(len);
      return;
    }
    if (client == null) {
      return;
    }
    try {
      client.write(b, off, len);
    } catch (IOException e) {
      clientFailure = e;
      client = null;
    }
  }

  private void held(long bytes) {
    heldBytes += bytes;
    if (heldBytes > MAX_HELD_BYTES) {
      cutOff = true;
    }
  }

  /** An event ended (its blank line is in the buffer): reads it, then relays or holds it. */
  private void complete() {
    int len = eventLen;
    eventLen = 0;
    eventBlank = true;
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
    if (!(parsed instanceof ObjectNode object)) {
      relay(event, 0, len);
      return;
    }
    if (type == null && object.path("type").isTextual()) {
      type = object.path("type").asText();
    }
    Action action = onEvent(type == null ? "" : type, object);
    if (outputPieces > budget && !closed()) {
      // Past what the call pays for: this event and everything after it stay with the gateway.
      cutOff = true;
      return;
    }
    if (holding || action == Action.HOLD) {
      holding = true;
      held.add(new Held(type, object));
      held(len);
      return;
    }
    relay(event, 0, len);
  }

  @Override
  public void finish(OutputStream to) throws IOException {
    if (eventLen == 0 || cutOff || overlong) {
      return;
    }
    client = to;
    // An event the upstream did not end with a blank line: read as one.
    if (!eventBlank) {
      complete();
    } else {
      relay(event, 0, eventLen);
      eventLen = 0;
    }
    client = null;
    if (clientFailure != null) {
      throw clientFailure;
    }
  }

  @Override
  public boolean cutOff() {
    return cutOff;
  }

  /**
   * Reads one whole event, whose data is a JSON object; called for every event, held ones too.
   *
   * @param type its {@code event:} name, else its data's {@code type}, else empty
   * @return whether to relay it or hold it until the call is settled
   */
  abstract Action onEvent(String type, ObjectNode data);

  /**
   * The events that close a settled stream, written with the charge.
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

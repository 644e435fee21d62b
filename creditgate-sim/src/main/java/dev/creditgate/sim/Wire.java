package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Writes answers on the wire: JSON bodies, errors, plain answers with their configured faults, and
 * server-sent events. Usage is counted just before the bytes that carry it are written, and taken
 * back if the write fails, so a client that read a usage always finds it counted.
 */
final class Wire {

  /**
   * Faults of plain answers: padded with spaces to at least {@code paddingBytes}, or stalled for
   * {@code stallNanos} after their headers and half their body.
   */
  record PlainFaults(int paddingBytes, long stallNanos) {}

  private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] EVENT = "event: ".getBytes(StandardCharsets.US_ASCII);

  private final ObjectMapper mapper;
  private final PlainFaults plainFaults;
  private final StatsCounter stats;

  Wire(ObjectMapper mapper, PlainFaults plainFaults, StatsCounter stats) {
    this.mapper = mapper;
    this.plainFaults = plainFaults;
    this.stats = stats;
  }

  void json(HttpExchange ex, int status, JsonNode node) throws IOException {
    byte[] bytes = mapper.writeValueAsBytes(node);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** A client error in the protocol's shape; {@code param} may be null. */
  void error(
      HttpExchange ex, ErrorShape shape, int status, String message, String param, String code)
      throws IOException {
    json(ex, status, shape.error(mapper, status, message, param, code));
  }

  /** A client error that counts as a rejected request. */
  void reject(
      HttpExchange ex, ErrorShape shape, int status, String message, String param, String code)
      throws IOException {
    stats.rejectedRequests.increment();
    error(ex, shape, status, message, param, code);
  }

  /** An injected failure in the protocol's shape. */
  void failure(HttpExchange ex, ErrorShape shape, int status, String message) throws IOException {
    json(ex, status, shape.failure(mapper, status, message));
  }

  /**
   * A 200 JSON answer, padded and stalled as configured. With {@code abortHalf} the connection is
   * dropped after the headers and half the body, and the usage is not counted.
   *
   * @param usage the usage the body reports, null when it reports none
   */
  void answer(
      HttpExchange ex, JsonNode body, String idHeader, String id, Usage usage, boolean abortHalf)
      throws IOException, InterruptedException {
    byte[] bytes = mapper.writeValueAsBytes(body);
    if (bytes.length < plainFaults.paddingBytes()) {
      byte[] padded = Arrays.copyOf(bytes, plainFaults.paddingBytes());
      Arrays.fill(padded, bytes.length, padded.length, (byte) ' ');
      bytes = padded;
    }
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.getResponseHeaders().set(idHeader, id);
    if (abortHalf) {
      ex.sendResponseHeaders(200, bytes.length);
      OutputStream out = ex.getResponseBody();
      out.write(bytes, 0, bytes.length / 2);
      out.flush();
      throw new AbortResponse("plain answer cut after half its body by the fault");
    }
    if (usage != null) {
      stats.recordUsage(usage);
    }
    try {
      ex.sendResponseHeaders(200, bytes.length);
      try (OutputStream out = ex.getResponseBody()) {
        int half = plainFaults.stallNanos() > 0 ? bytes.length / 2 : 0;
        if (half > 0) {
          out.write(bytes, 0, half);
          out.flush();
          Pacing.sleepNanos(plainFaults.stallNanos());
        }
        out.write(bytes, half, bytes.length - half);
      }
    } catch (IOException e) {
      if (usage != null) {
        stats.unrecordUsage(usage);
      }
      throw e;
    }
    stats.completedResponses.increment();
  }

  /** Sends the headers of a 200 event stream and returns its body. */
  OutputStream openStream(HttpExchange ex, String idHeader, String id) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "text/event-stream");
    ex.getResponseHeaders().set("Cache-Control", "no-cache");
    ex.getResponseHeaders().set(idHeader, id);
    ex.sendResponseHeaders(200, 0);
    return ex.getResponseBody();
  }

  /** One {@code data: <json>} event, flushed. */
  void data(OutputStream out, JsonNode node) throws IOException {
    event(out, null, node);
  }

  /** One event, flushed: {@code event: <type>} (when type is not null) and {@code data: <json>}. */
  void event(OutputStream out, String type, JsonNode node) throws IOException {
    byte[] json = mapper.writeValueAsBytes(node);
    byte[] name = type == null ? new byte[0] : type.getBytes(StandardCharsets.US_ASCII);
    int head = type == null ? 0 : EVENT.length + name.length + 1;
    byte[] frame = new byte[head + DATA.length + json.length + 2];
    int at = 0;
    if (type != null) {
      System.arraycopy(EVENT, 0, frame, 0, EVENT.length);
      System.arraycopy(name, 0, frame, EVENT.length, name.length);
      frame[head - 1] = '\n';
      at = head;
    }
    System.arraycopy(DATA, 0, frame, at, DATA.length);
    System.arraycopy(json, 0, frame, at + DATA.length, json.length);
    frame[frame.length - 2] = '\n';
    frame[frame.length - 1] = '\n';
    out.write(frame);
    out.flush();
  }

  /** An event that carries usage: counted before it is written, taken back if that fails. */
  void usageEvent(OutputStream out, String type, JsonNode node, Usage usage) throws IOException {
    if (usage == null) {
      event(out, type, node);
      return;
    }
    stats.recordUsage(usage);
    try {
      event(out, type, node);
    } catch (IOException e) {
      stats.unrecordUsage(usage);
      throw e;
    }
  }

  /** Writes the last bytes of a stream, closes it and counts it served. */
  void finishStream(OutputStream out, byte[] last) throws IOException {
    if (last.length > 0) {
      out.write(last);
      out.flush();
    }
    out.close();
    stats.completedResponses.increment();
    stats.streamedResponses.increment();
  }
}

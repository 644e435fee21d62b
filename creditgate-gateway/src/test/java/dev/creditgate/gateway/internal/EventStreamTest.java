package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The typed-event streams (Messages shown; Responses shares the splitting): events split across
 * reads however the bytes fall, nothing relayed past the budget, every event read even after the
 * client left or the stream was held, held bytes bounded.
 */
class EventStreamTest {

  static String event(String type, String data) {
    return "event: " + type + "\r\ndata: " + data + "\r\n\r\n";
  }

  static final String START =
      event(
          "message_start",
          "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,"
              + "\"output_tokens\":1,\"cache_read_input_tokens\":4}}}");

  static String text(String t) {
    return event(
        "content_block_delta",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\""
            + t
            + "\"}}");
  }

  static String delta(long output) {
    return event(
        "message_delta",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":"
            + "{\"output_tokens\":"
            + output
            + "}}");
  }

  static final String STOP = event("message_stop", "{\"type\":\"message_stop\"}");

  @Test
  void eventsSplitAnywhereEvenInsideACrLfBlankLineAreRead() throws IOException {
    byte[] all = (START + text("a") + text("b") + delta(2) + STOP).getBytes(StandardCharsets.UTF_8);
    for (int cut = 1; cut < all.length; cut++) {
      MessagesStream s = new MessagesStream(100);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      s.feed(all, 0, cut, out);
      s.feed(all, cut, all.length - cut, out);
      s.finish(out);
      assertThat(s.outputPieces()).as("cut at %d", cut).isEqualTo(2);
      assertThat(s.usageReport().usage().inputTokens()).isEqualTo(14);
      assertThat(s.usageReport().usage().outputTokens()).isEqualTo(2);
      assertThat(s.closed()).isTrue();
      // The closing events are held, everything before them relayed as it came.
      assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(START + text("a") + text("b"));
    }
  }

  @Test
  void nothingPastTheBudgetIsRelayedEvenWhenItCameInTheSameRead() throws IOException {
    MessagesStream s = new MessagesStream(2);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] all =
        (START + text("a") + text("b") + text("c") + text("d") + delta(4) + STOP)
            .getBytes(StandardCharsets.UTF_8);
    s.feed(all, 0, all.length, out);
    assertThat(s.cutOff()).isTrue();
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(START + text("a") + text("b"));
  }

  @Test
  void aClientThatFailsMidReadDoesNotStopTheReading() {
    MessagesStream s = new MessagesStream(100);
    OutputStream failing =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            throw new IOException("client gone");
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            throw new IOException("client gone");
          }
        };
    byte[] all = (START + text("a") + delta(7) + STOP).getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> s.feed(all, 0, all.length, failing)).hasMessage("client gone");
    assertThat(s.usageReport().usage().outputTokens()).isEqualTo(7);
    assertThat(s.closed()).isTrue();
  }

  @Test
  void severalMessageDeltasCountTheirLargestOutput() throws IOException {
    MessagesStream s = new MessagesStream(1000);
    byte[] all =
        (START + text("a") + delta(5) + delta(500) + STOP).getBytes(StandardCharsets.UTF_8);
    s.feed(all, 0, all.length, OutputStream.nullOutputStream());
    assertThat(s.usageReport().usage().outputTokens()).isEqualTo(500);
  }

  @Test
  void aMessageDeltaWithTheInputCountsIsTheUsageWhenMessageStartHadNone() throws IOException {
    MessagesStream s = new MessagesStream(1000);
    String start = event("message_start", "{\"type\":\"message_start\",\"message\":{}}");
    String fullDelta =
        event(
            "message_delta",
            "{\"type\":\"message_delta\",\"usage\":{\"input_tokens\":30,\"output_tokens\":3}}");
    byte[] all = (start + text("a") + fullDelta + STOP).getBytes(StandardCharsets.UTF_8);
    s.feed(all, 0, all.length, OutputStream.nullOutputStream());
    assertThat(s.usageReport().usage().inputTokens()).isEqualTo(30);
    assertThat(s.usageReport().usage().outputTokens()).isEqualTo(3);
  }

  @Test
  void heldEventsAreBounded() throws IOException {
    MessagesStream s = new MessagesStream(Long.MAX_VALUE);
    byte[] head = (START + delta(1)).getBytes(StandardCharsets.UTF_8);
    s.feed(head, 0, head.length, OutputStream.nullOutputStream());
    byte[] ping = event("ping", "{\"type\":\"ping\"}").getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < EventStream.MAX_HELD_BYTES / ping.length + 2 && !s.cutOff(); i++) {
      s.feed(ping, 0, ping.length, OutputStream.nullOutputStream());
    }
    assertThat(s.cutOff()).isTrue();
  }
}

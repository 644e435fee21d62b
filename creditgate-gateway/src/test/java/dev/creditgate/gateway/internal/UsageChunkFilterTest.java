package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class UsageChunkFilterTest {

  static final String IN =
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
          + "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
          + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n"
          + "data: [DONE]\n\n";
  static final String OUT =
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
          + "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
          + "data: [DONE]\n\n";

  @Property(tries = 200)
  void dropsOnlyTheUsageOnlyEventHoweverTheBytesAreSplit(
      @ForAll @IntRange(min = 1, max = 80) int chunk, @ForAll boolean crlf) {
    String in = crlf ? IN.replace("\n", "\r\n") : IN;
    String expected = crlf ? OUT.replace("\n", "\r\n") : OUT;
    byte[] b = in.getBytes(StandardCharsets.UTF_8);
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < b.length; i += chunk) {
      out.writeBytes(f.feed(b, i, Math.min(chunk, b.length - i)));
    }
    out.writeBytes(f.finish());
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(expected);
    assertThat(f.usageChunk().path("usage").path("prompt_tokens").asLong()).isEqualTo(3);
    assertThat(f.usageChunk().path("usage").path("completion_tokens").asLong()).isEqualTo(1);
  }

  @Test
  void keepsOnlyTheLastUsageOnlyEventOfSeveral() {
    String in =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":0}}\n\n" + IN;
    byte[] b = in.getBytes(StandardCharsets.UTF_8);
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(f.feed(b, 0, b.length));
    out.writeBytes(f.finish());
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(OUT);
    assertThat(f.usageChunk().path("usage").path("completion_tokens").asLong()).isEqualTo(1);
  }

  @Test
  void aStreamWithoutAUsageOnlyEventKeepsNone() {
    byte[] b = OUT.getBytes(StandardCharsets.UTF_8);
    UsageChunkFilter f = new UsageChunkFilter();
    assertThat(f.feed(b, 0, b.length)).isEqualTo(b);
    assertThat(f.usageChunk()).isNull();
  }

  @Property(tries = 20)
  void aLineTooLongToHoldIsPassedOnAsItComesAndTheUsageEventIsStillDropped(
      @ForAll @IntRange(min = 1000, max = 20000) int chunk) {
    String big =
        "data: {\"choices\":[{\"delta\":{\"content\":\""
            + "y".repeat(UsageChunkFilter.MAX_HELD_BYTES * 3)
            + "\"}}],\"usage\":null}\n\n";
    byte[] b = (big + IN).getBytes(StandardCharsets.UTF_8);
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int maxHeld = 0;
    int fed = 0;
    for (int i = 0; i < b.length; i += chunk) {
      int n = Math.min(chunk, b.length - i);
      fed += n;
      out.writeBytes(f.feed(b, i, n));
      maxHeld = Math.max(maxHeld, fed - out.size());
    }
    out.writeBytes(f.finish());
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(big + OUT);
    assertThat(maxHeld).isLessThanOrEqualTo(UsageChunkFilter.MAX_HELD_BYTES + chunk);
  }
}

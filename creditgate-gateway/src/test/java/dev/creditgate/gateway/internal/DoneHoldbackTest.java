package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class DoneHoldbackTest {

  private static final String BODY =
      "data: {\"choices\":[{\"delta\":{\"content\":\"data: [DONE] inside text\"}}]}\n\n"
          + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n";
  private static final String DONE = "data: [DONE]\n\n";

  /**
   * Feeds {@code text} cut at {@code cuts}; returns what went out before release, and the released
   * rest.
   */
  private static String[] run(String text, List<Integer> cuts) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    DoneHoldback hold = new DoneHoldback();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int from = 0;
    for (int cut : cuts.stream().map(c -> Math.min(c, bytes.length)).sorted().toList()) {
      out.write(bytes, from, hold.pass(bytes, from, cut - from));
      from = cut;
    }
    out.write(bytes, from, hold.pass(bytes, from, bytes.length - from));
    return new String[] {
      out.toString(StandardCharsets.UTF_8), new String(hold.release(), StandardCharsets.UTF_8)
    };
  }

  @Property(tries = 300)
  void nothingIsLostAndTheDoneLineNeverGoesOutBeforeRelease(
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 200) Integer> cuts) {
    String[] r = run(BODY + DONE, cuts);
    assertThat(r[0] + r[1]).isEqualTo(BODY + DONE);
    assertThat(r[0]).startsWith(BODY).doesNotContain("\ndata: [DONE]");
    // A marker split across pieces may have its first bytes out already; its last byte is held.
    assertThat(r[1]).endsWith("]\n\n");
  }

  @Test
  void aStreamWithoutDoneIsPassedWhole() {
    String[] r = run(BODY, List.of(10, 50));
    assertThat(r[0]).isEqualTo(BODY);
    assertThat(r[1]).isEmpty();
  }

  @Test
  void theMarkerInsideCompletionTextIsNotHeld() {
    String[] r = run(BODY.substring(0, BODY.indexOf("\n\n") + 2), List.of());
    assertThat(r[1]).isEmpty();
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.gateway.internal.SseScanner;
import dev.creditgate.pricing.Usage;
import java.nio.charset.StandardCharsets;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class SseScannerTest {

  static final String STREAM = """
      data: {"choices":[{"delta":{"content":"Hel"}}]}

      data: {"choices":[{"delta":{"content":"lo"}}],"usage":{"prompt_tokens":5,"completion_tokens":1}}

      : a comment
      data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":1}}}

      data: [DONE]

      """;

  @Test
  void takesTheLargestUsagePerFieldAndTheText() {
    SseScanner s = new SseScanner();
    byte[] b = STREAM.getBytes(StandardCharsets.UTF_8);
    s.feed(b, 0, b.length);
    assertThat(s.usage()).isEqualTo(new Usage(7, 2, 3, 1));
    assertThat(s.text()).isEqualTo("Hello");
    assertThat(s.done()).isTrue();
  }

  @Property(tries = 200)
  void resultDoesNotDependOnHowTheBytesAreSplit(@ForAll @IntRange(min = 1, max = 64) int chunk) {
    SseScanner s = new SseScanner();
    byte[] b = STREAM.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < b.length; i += chunk) {
      s.feed(b, i, Math.min(chunk, b.length - i));
    }
    assertThat(s.usage()).isEqualTo(new Usage(7, 2, 3, 1));
    assertThat(s.text()).isEqualTo("Hello");
  }

  @Test
  void noUsageMeansNull() {
    SseScanner s = new SseScanner();
    byte[] b = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: not json\n\n".getBytes(StandardCharsets.UTF_8);
    s.feed(b, 0, b.length);
    assertThat(s.usage()).isNull();
    assertThat(s.done()).isFalse();
  }

  @Test
  void aLineOverTheLimitIsSkippedAndTheNextLinesStillCount() {
    SseScanner s = new SseScanner();
    String huge = "data: {\"choices\":[{\"delta\":{\"content\":\"" + "x".repeat(5 * 1024 * 1024) + "\"}}]}\n\n";
    byte[] b = (huge + STREAM).getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < b.length; i += 8192) {
      s.feed(b, i, Math.min(8192, b.length - i));
    }
    assertThat(s.text()).isEqualTo("Hello");
    assertThat(s.usage()).isEqualTo(new Usage(7, 2, 3, 1));
    assertThat(s.done()).isTrue();
  }
}

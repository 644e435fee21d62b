package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.gateway.internal.Json;
import dev.creditgate.gateway.internal.SseScanner;
import dev.creditgate.gateway.internal.UsageParser;
import dev.creditgate.pricing.Usage;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class SseScannerTest {

  static final String STREAM =
      """
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
    byte[] b =
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: not json\n\n"
            .getBytes(StandardCharsets.UTF_8);
    s.feed(b, 0, b.length);
    assertThat(s.usage()).isNull();
    assertThat(s.done()).isFalse();
  }

  @Test
  void toolAndFunctionCallsAreOutputToo() {
    SseScanner s = new SseScanner();
    byte[] b =
        ("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":null,"
                + "\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
                + "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n"
                + "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,"
                + "\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n"
                + "data: {\"choices\":[{\"delta\":{\"function_call\":{\"arguments\":\"1\"}}},"
                + "{\"delta\":{\"refusal\":\"no\"}}]}\n\n")
            .getBytes(StandardCharsets.UTF_8);
    s.feed(b, 0, b.length);
    assertThat(s.text()).isEqualTo("get_weather{\"city\":1no");
    assertThat(s.outputPieces()).isEqualTo(4);
    assertThat(s.usageReport().kind()).isEqualTo(UsageParser.Report.Kind.ABSENT);
  }

  @Test
  void anUnreadableUsageIsReportedAsSuchUntilAWholeOneComes() {
    SseScanner s = new SseScanner();
    byte[] b =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":50}}\n\n"
            .getBytes(StandardCharsets.UTF_8);
    s.feed(b, 0, b.length);
    assertThat(s.usage()).isNull();
    assertThat(s.usageReport().kind()).isEqualTo(UsageParser.Report.Kind.MALFORMED);
    assertThat(s.usageReport().problem()).contains("completion_tokens");
    byte[] whole =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":9}}\n\n"
            .getBytes(StandardCharsets.UTF_8);
    s.feed(whole, 0, whole.length);
    assertThat(s.usageReport().kind()).isEqualTo(UsageParser.Report.Kind.VALID);
    assertThat(s.usage()).isEqualTo(new Usage(50, 9, 0, 0));
  }

  @Test
  void onlyAUsageOnlyChunkThatCoversTheOutputClosesTheStream() {
    SseScanner s = new SseScanner();
    byte[] early =
        ("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":0}}\n\n"
                + "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],"
                + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}}\n\n"
                + "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n")
            .getBytes(StandardCharsets.UTF_8);
    s.feed(early, 0, early.length);
    assertThat(s.usage()).isEqualTo(new Usage(9, 1, 0, 0));
    assertThat(s.closingUsageSeen()).as("two pieces, one token reported").isFalse();
    byte[] closing =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n"
            .getBytes(StandardCharsets.UTF_8);
    s.feed(closing, 0, closing.length);
    assertThat(s.closingUsageSeen()).isTrue();
  }

  @Test
  void aLineOverTheLimitIsSkippedAndTheNextLinesStillCount() {
    SseScanner s = new SseScanner();
    String huge =
        "data: {\"choices\":[{\"delta\":{\"content\":\""
            + "x".repeat(5 * 1024 * 1024)
            + "\"}}]}\n\n";
    byte[] b = (huge + STREAM).getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < b.length; i += 8192) {
      s.feed(b, i, Math.min(8192, b.length - i));
    }
    assertThat(s.text()).isEqualTo("Hello");
    assertThat(s.usage()).isEqualTo(new Usage(7, 2, 3, 1));
    assertThat(s.done()).isTrue();
  }

  // ---- the streaming reading of a chunk against the tree reading it replaced ----------------

  /** The former reading of one chunk: a whole tree, then its usage and texts. */
  private static void treeReading(String json, Usage[] usage, StringBuilder text) {
    JsonNode node;
    try {
      node = Json.MAPPER.readTree(json);
    } catch (Exception e) {
      return;
    }
    if (node == null || !node.isObject()) {
      return;
    }
    UsageParser.from(node).ifPresent(u -> usage[0] = usage[0] == null ? u : usage[0].max(u));
    JsonNode choices = node.get("choices");
    if (choices != null && choices.isArray()) {
      for (JsonNode choice : choices) {
        JsonNode delta = choice.path("delta");
        for (String field : new String[] {"content", "reasoning_content", "refusal"}) {
          JsonNode t = delta.path(field);
          if (t.isTextual()) {
            text.append(t.asText());
          }
        }
        List<JsonNode> functions = new java.util.ArrayList<>();
        for (JsonNode call : delta.path("tool_calls")) {
          functions.add(call.path("function"));
        }
        if (!delta.path("tool_calls").isArray()) {
          functions.clear();
        }
        functions.add(delta.path("function_call"));
        for (JsonNode function : functions) {
          for (String field : new String[] {"name", "arguments"}) {
            if (function.path(field).isTextual()) {
              text.append(function.path(field).asText());
            }
          }
        }
      }
    }
  }

  @Provide
  Arbitrary<String> chunks() {
    Arbitrary<String> scalar =
        Arbitraries.of(
            "1", "-3", "2.5", "\"x\"", "null", "true", "{}", "[]", "\"7\"", "99999999999999999999");
    Arbitrary<String> text =
        Arbitraries.strings()
            .withChars("ab\\\"é ")
            .ofMaxLength(4)
            .map(t -> "\"" + t.replace("\\", "\\\\").replace("\"", "\\\"") + "\"");
    Arbitrary<String> function =
        Arbitraries.oneOf(
            fields(
                Arbitraries.of("name", "arguments", "arguments"), Arbitraries.oneOf(text, scalar)),
            scalar);
    Arbitrary<String> call =
        Arbitraries.oneOf(
            fields(Arbitraries.of("function", "id", "function"), Arbitraries.oneOf(function, text)),
            scalar);
    Arbitrary<String> calls =
        Arbitraries.oneOf(
            call.list().ofMaxSize(2).map(l -> "[" + String.join(",", l) + "]"), scalar);
    Arbitrary<String> delta =
        Arbitraries.oneOf(
            fields(
                Arbitraries.of("content", "reasoning_content", "role", "content", "refusal"),
                Arbitraries.oneOf(text, scalar)),
            fields(
                Arbitraries.of("tool_calls", "function_call", "content"),
                Arbitraries.oneOf(calls, function, text)));
    Arbitrary<String> choice =
        Arbitraries.oneOf(
            fields(Arbitraries.of("delta", "index", "delta"), Arbitraries.oneOf(delta, scalar)),
            scalar);
    Arbitrary<String> choices =
        choice.list().ofMaxSize(3).map(l -> "[" + String.join(",", l) + "]");
    Arbitrary<String> usage =
        fields(
            Arbitraries.of(
                "prompt_tokens",
                "completion_tokens",
                "prompt_tokens_details",
                "completion_tokens_details"),
            Arbitraries.oneOf(
                scalar, fields(Arbitraries.of("cached_tokens", "reasoning_tokens"), scalar)));
    Arbitrary<String> chunk =
        fields(
            Arbitraries.of("choices", "usage", "id", "choices", "usage"),
            Arbitraries.oneOf(choices, usage, scalar, text));
    // Some chunks are cut short or have something after them: neither reading may count those.
    return Combinators.combine(
            chunk,
            Arbitraries.of("", "", "", " ", "}", " {}", "x"),
            Arbitraries.integers().between(0, 9))
        .as((c, tail, cut) -> cut == 0 ? c.substring(0, c.length() / 2) : c + tail);
  }

  private static Arbitrary<String> fields(Arbitrary<String> names, Arbitrary<String> values) {
    return Combinators.combine(names, values)
        .as((n, v) -> "\"" + n + "\":" + v)
        .list()
        .ofMaxSize(4)
        .map(l -> "{" + String.join(",", l) + "}");
  }

  @Property(tries = 2000)
  void aChunkIsReadAsItsWholeTreeReadsIt(
      @ForAll @Size(max = 5) List<@From("chunks") String> chunks) {
    SseScanner s = new SseScanner();
    Usage[] usage = new Usage[1];
    StringBuilder text = new StringBuilder();
    for (String chunk : chunks) {
      byte[] line = ("data: " + chunk + "\n\n").getBytes(StandardCharsets.UTF_8);
      s.feed(line, 0, line.length);
      treeReading(chunk, usage, text);
    }
    assertThat(s.usage()).as("usage of %s", chunks).isEqualTo(usage[0]);
    assertThat(s.text()).as("text of %s", chunks).isEqualTo(text.toString());
  }
}

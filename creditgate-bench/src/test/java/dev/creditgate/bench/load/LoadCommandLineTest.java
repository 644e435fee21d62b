package dev.creditgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.bench.load.LoadOptions.Key;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoadCommandLineTest {

  private static final URI CHAT = URI.create("http://127.0.0.1:9/v1/chat/completions");

  private static LoadCommandLine parse(String... args) throws Exception {
    return LoadCommandLine.parse(args);
  }

  @Test
  void aBareUrlRunsWithTheNamedDefaults() throws Exception {
    LoadCommandLine line = parse("--url", "http://127.0.0.1:9/v1");

    assertThat(line.help()).isFalse();
    assertThat(line.search()).isNull();
    assertThat(line.options())
        .isEqualTo(
            new LoadOptions(
                CHAT,
                LoadOptions.DEFAULT_RATE,
                LoadOptions.DEFAULT_DURATION,
                LoadOptions.DEFAULT_WARMUP,
                LoadOptions.DEFAULT_STREAM_FRACTION,
                List.of(),
                LoadOptions.DEFAULT_CONNECTIONS,
                LoadOptions.DEFAULT_TIMEOUT,
                List.of(),
                LoadOptions.DEFAULT_LABEL,
                LoadOptions.DEFAULT_MODEL,
                LoadOptions.DEFAULT_MAX_TOKENS));
    // The defaults the usage text promises.
    assertThat(LoadCommandLine.USAGE)
        .contains("[--rate 500] [--duration 10s] [--warmup 3s] [--stream-fraction 0.2]")
        .contains("[--connections 128] [--timeout 10s]")
        .contains("[--model pro] [--max-tokens 32]")
        .contains("--search-start 500 --search-factor 1.3 --search-max 20000 --p99-limit-ms 50")
        .contains("--search-percentile 99]");
  }

  @Test
  void readsEveryOptionBenchRunLoadShPasses(@TempDir Path dir) throws Exception {
    Path keys = dir.resolve("keys.txt");
    Files.writeString(keys, "k-1\nk-2,blocked\n");
    Path timeline = dir.resolve("timeline.tsv");
    LoadCommandLine line =
        parse(
            "--label",
            "gateway",
            "--url",
            "http://127.0.0.1:9/v1",
            "--rate",
            "1000",
            "--duration",
            "12s",
            "--warmup",
            "4s",
            "--stream-fraction",
            "0.25",
            "--connections",
            "64",
            "--timeline",
            timeline.toString(),
            "--keys",
            keys.toString(),
            "--header",
            "X-A: 1",
            "--header",
            "X-B: 2",
            "--timeout",
            "30s",
            "--model",
            "m",
            "--max-tokens",
            "5",
            "--stream-url",
            "http://127.0.0.1:10/v1",
            "--stream-model",
            "slow");

    LoadOptions o = line.options();
    assertThat(line.search()).isNull();
    assertThat(o.label()).isEqualTo("gateway");
    assertThat(o.url()).isEqualTo(CHAT);
    assertThat(o.rate()).isEqualTo(1000);
    assertThat(o.duration()).isEqualTo(Duration.ofSeconds(12));
    assertThat(o.warmup()).isEqualTo(Duration.ofSeconds(4));
    assertThat(o.streamFraction()).isEqualTo(0.25);
    assertThat(o.connections()).isEqualTo(64);
    assertThat(o.timeline()).isEqualTo(timeline);
    assertThat(o.keys()).containsExactly(new Key("k-1", false), new Key("k-2", true));
    assertThat(o.headers()).containsExactly("X-A: 1", "X-B: 2");
    assertThat(o.timeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(o.model()).isEqualTo("m");
    assertThat(o.maxTokens()).isEqualTo(5);
    assertThat(o.streamUrl()).isEqualTo(URI.create("http://127.0.0.1:10/v1/chat/completions"));
    assertThat(o.streamModel()).isEqualTo("slow");
    // A search step keeps the timeline, so --search --timeline writes the last step's.
    assertThat(o.withRate(7, Duration.ofSeconds(1)).timeline()).isEqualTo(timeline);
  }

  @Test
  void aSearchStepsForItsDurationWithTheLimitOnItsPercentile() throws Exception {
    LoadCommandLine line =
        parse(
            "--search",
            "--label",
            "g",
            "--url",
            "http://127.0.0.1:9/v1",
            "--duration",
            "6s",
            "--warmup",
            "2s",
            "--search-start",
            "1000",
            "--search-factor",
            "1.4",
            "--search-max",
            "20000",
            "--search-percentile",
            "99.9",
            "--limit-ms",
            "80");

    assertThat(line.search())
        .isEqualTo(new RateSearch(1000, 1.4, 20_000, Duration.ofSeconds(6), 99.9, 80));
    assertThat(line.options().warmup()).isEqualTo(Duration.ofSeconds(2));
    // --p99-limit-ms is the same option; without --search the search options are not checked.
    assertThat(parse("--search", "--url", "http://h/v1", "--p99-limit-ms", "30").search())
        .isEqualTo(
            new RateSearch(
                RateSearch.DEFAULT_START_RATE,
                RateSearch.DEFAULT_FACTOR,
                RateSearch.DEFAULT_MAX_RATE,
                LoadOptions.DEFAULT_DURATION,
                RateSearch.DEFAULT_PERCENTILE,
                30));
    assertThat(parse("--url", "http://h/v1", "--search-percentile", "100").search()).isNull();
  }

  @Test
  void helpStopsParsingWhereItStandsAndErrorsNameTheOption() throws Exception {
    assertThat(parse("--help", "--rate", "x").help()).isTrue();
    assertThat(parse("-h").help()).isTrue();
    assertThatThrownBy(() -> parse("--rate", "x", "--help"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--rate must be an integer, but was 'x'");
    assertThatThrownBy(() -> parse("--url")).hasMessage("option --url needs a value");
    assertThatThrownBy(() -> parse("--bogus", "1")).hasMessage("unknown option '--bogus'");
    assertThatThrownBy(() -> parse("--rate", "5")).hasMessage("--url is required");
    assertThatThrownBy(() -> parse("--url", "http://h/v1", "--stream-fraction", "a lot"))
        .hasMessage("--stream-fraction must be a number, but was 'a lot'");
    assertThatThrownBy(() -> parse("--url", "http://h/v1", "--search-factor", "1"))
        .hasMessage("--search-factor must be above 1, but was 1.0");
    assertThatThrownBy(() -> parse("--url", "http://h/v1", "--search", "--search-percentile", "0"))
        .hasMessage("--search-percentile must be between 0 and 100, but was 0.0");
    assertThatThrownBy(() -> parse("--url", "ftp://h/v1"))
        .hasMessage("url must be an http:// URL, but was ftp://h/v1/chat/completions");
    assertThatThrownBy(() -> parse("--url", "http://h/v1", "--keys", "/nonexistent/keys.txt"))
        .isInstanceOf(java.io.IOException.class);
  }

  @Test
  void keysFileAndOptionsAreValidated(@TempDir Path dir) throws Exception {
    Path keys = dir.resolve("keys.txt");
    Files.writeString(keys, "# comment\nkey-a\nkey-b,blocked\n\nkey-c blocked\n");
    assertThat(LoadCommandLine.readKeys(keys))
        .containsExactly(new Key("key-a", false), new Key("key-b", true), new Key("key-c", true));
    Files.writeString(keys, "key-a,maybe\n");
    assertThatThrownBy(() -> LoadCommandLine.readKeys(keys))
        .hasMessageContaining("line 1 must be 'KEY' or 'KEY,blocked', but was 'key-a,maybe'");

    assertThat(LoadCommandLine.normalize("http://127.0.0.1:9/v1"))
        .isEqualTo(URI.create("http://127.0.0.1:9/v1/chat/completions"));
    assertThat(LoadCommandLine.normalize("http://127.0.0.1:9"))
        .isEqualTo(URI.create("http://127.0.0.1:9/v1/chat/completions"));
    assertThat(LoadCommandLine.normalize("http://127.0.0.1:9/x/v1/chat/completions"))
        .isEqualTo(URI.create("http://127.0.0.1:9/x/v1/chat/completions"));
    assertThat(LoadCommandLine.parseDuration("--d", "1500ms")).isEqualTo(Duration.ofMillis(1500));
    assertThatThrownBy(() -> LoadCommandLine.parseDuration("--duration", "soon"))
        .hasMessage("--duration must be a duration like 15s or 500ms, but was 'soon'");
    URI url = URI.create("http://127.0.0.1:9/v1/chat/completions");
    assertThatThrownBy(
            () ->
                new LoadOptions(
                    url,
                    0,
                    Duration.ofSeconds(1),
                    Duration.ZERO,
                    0,
                    List.of(),
                    1,
                    Duration.ofSeconds(1),
                    List.of(),
                    "x",
                    "pro",
                    8))
        .hasMessage("rate must be positive, but was 0");
    assertThatThrownBy(
            () ->
                new LoadOptions(
                    url,
                    1,
                    Duration.ofSeconds(1),
                    Duration.ZERO,
                    1.5,
                    List.of(),
                    1,
                    Duration.ofSeconds(1),
                    List.of(),
                    "x",
                    "pro",
                    8))
        .hasMessage("streamFraction must be between 0 and 1, but was 1.5");
    assertThatThrownBy(
            () ->
                new LoadOptions(
                    url,
                    1,
                    Duration.ofSeconds(1),
                    Duration.ZERO,
                    0,
                    List.of(),
                    1,
                    Duration.ofSeconds(1),
                    List.of("no colon"),
                    "x",
                    "pro",
                    8))
        .hasMessage("header must look like 'Name: value', but was 'no colon'");
  }
}

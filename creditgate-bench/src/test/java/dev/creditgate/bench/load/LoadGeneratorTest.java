package dev.creditgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.bench.load.LoadOptions.Key;
import dev.creditgate.sim.SimulatedUpstream;
import dev.creditgate.sim.SimulatorStats;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoadGeneratorTest {

  private static LoadOptions options(
      SimulatedUpstream sim,
      int rate,
      Duration duration,
      double streamFraction,
      List<Key> keys,
      int connections,
      List<String> headers) {
    return new LoadOptions(
        LoadCommandLine.normalize(sim.baseUrl()),
        rate,
        duration,
        Duration.ofMillis(300),
        streamFraction,
        keys,
        connections,
        Duration.ofSeconds(5),
        headers,
        "test",
        "pro",
        16);
  }

  @Test
  void sendsTheMixAtTheRateAndMeasuresTheUpstreamLatency() throws Exception {
    try (SimulatedUpstream sim =
        SimulatedUpstream.builder().latency(Duration.ofMillis(20)).build().start()) {
      LoadResult r =
          LoadGenerator.run(
              options(sim, 200, Duration.ofSeconds(2), 0.3, List.of(), 32, List.of()));

      assertThat(r.errors()).as("errors %s", r.errorKinds()).isZero();
      assertThat(r.sent()).isEqualTo(400);
      assertThat(r.ok()).isEqualTo(400);
      // Achieved rate counts until the last response; an overloaded CI machine stretches that tail,
      // so only the upper bound (never faster than offered) is tight.
      assertThat(r.achievedRate()).isBetween(100.0, 205.0);
      assertThat(r.all().getValueAtPercentile(50)).isGreaterThanOrEqualTo(20_000);
      // About 30% streamed, each read to its [DONE].
      assertThat(r.stream().getTotalCount()).isBetween(100L, 140L);
      assertThat(r.plain().getTotalCount() + r.stream().getTotalCount()).isEqualTo(400);
      assertThat(r.streamFirstByte().getValueAtPercentile(50))
          .isLessThanOrEqualTo(r.stream().getValueAtPercentile(50));

      // The upstream served warm-up and measured requests, every one with usage.
      SimulatorStats served = sim.stats();
      assertThat(served.completedResponses()).isEqualTo(460);
      assertThat(served.chatRequests()).isEqualTo(460);
      assertThat(served.streamedResponses()).isGreaterThanOrEqualTo(r.stream().getTotalCount());
      assertThat(served.usageReports()).isEqualTo(served.completedResponses());
    }
  }

  @Test
  void theTimelineCountsCallsSlowCallsAndTheSlowestPer100Ms(@TempDir Path dir) throws Exception {
    Timeline timeline = new Timeline(Duration.ofMillis(300).toNanos());
    timeline.record(Duration.ofMillis(5).toNanos(), 21_000);
    timeline.record(Duration.ofMillis(99).toNanos(), 45_000);
    timeline.record(Duration.ofMillis(250).toNanos(), 40_000);
    // A call sent after the period (a late worker) counts in the last slice, not out of bounds.
    timeline.record(Duration.ofMillis(900).toNanos(), 120_000);
    Path file = dir.resolve("timeline.tsv");
    timeline.write(file);

    assertThat(Files.readAllLines(file))
        .containsExactly(
            "t_ms\tcalls\tover_40ms\tmax_ms",
            "0\t2\t1\t45",
            "100\t0\t0\t0",
            "200\t1\t0\t40",
            "300\t1\t1\t120");
  }

  @Test
  void latencyCountsFromTheIntendedSendTimeSoQueueingIsNotHidden() throws Exception {
    // One connection and 100 ms per call can serve 10 req/s; asked for 20 req/s, every request
    // waits behind the ones before it. A closed-loop tool would report ~100 ms throughout.
    try (SimulatedUpstream sim =
        SimulatedUpstream.builder().latency(Duration.ofMillis(100)).build().start()) {
      LoadResult r =
          LoadGenerator.run(
              new LoadOptions(
                  LoadCommandLine.normalize(sim.baseUrl()),
                  20,
                  Duration.ofSeconds(2),
                  Duration.ZERO,
                  0,
                  List.of(),
                  1,
                  Duration.ofSeconds(10),
                  List.of(),
                  "queued",
                  "pro",
                  16));

      assertThat(r.all().getValueAtPercentile(50)).isGreaterThan(400_000);
      assertThat(r.all().getMaxValue()).isGreaterThan(800_000);
      assertThat(r.achievedRate()).isLessThan(12.0);
      assertThat(r.sustained(1_000)).isFalse();
    }
  }

  @Test
  void unexpectedStatusesAndTruncatedStreamsAreErrors() throws Exception {
    try (SimulatedUpstream sim = SimulatedUpstream.builder().build().start()) {
      LoadResult failing =
          LoadGenerator.run(
              options(
                  sim, 100, Duration.ofSeconds(1), 0.5, List.of(), 8, List.of("X-Sim-Fail: 500")));
      assertThat(failing.errors()).isEqualTo(100);
      assertThat(failing.errorKinds()).containsEntry("unexpected status 500 (expected 200)", 100L);
      assertThat(failing.ok()).isZero();
      assertThat(failing.all().getTotalCount()).isZero();

      LoadResult cut =
          LoadGenerator.run(
              options(
                  sim,
                  100,
                  Duration.ofSeconds(1),
                  1.0,
                  List.of(),
                  8,
                  List.of("X-Sim-Abort-After-Chunks: 2")));
      assertThat(cut.errors()).isEqualTo(100);
      assertThat(cut.errorKinds().keySet()).allMatch(k -> k.startsWith("io: "));
    }
  }

  @Test
  void blockedKeysMustBeRefusedWith402() throws Exception {
    try (SimulatedUpstream sim = SimulatedUpstream.builder().build().start()) {
      List<Key> keys = List.of(new Key("k-ok", false), new Key("k-blocked", true));
      // The simulator admits everyone, so every request for the blocked key is an error.
      LoadResult r =
          LoadGenerator.run(options(sim, 200, Duration.ofSeconds(1), 0, keys, 8, List.of()));
      long wrong = r.errorKinds().getOrDefault("unexpected status 200 (expected 402)", 0L);
      assertThat(wrong).isBetween(60L, 140L);
      assertThat(r.ok() + wrong).isEqualTo(200);

      // A target that refuses the blocked key with 402 passes.
      List<Key> allBlocked = List.of(new Key("k-blocked", true));
      LoadResult refused =
          LoadGenerator.run(
              options(
                  sim, 100, Duration.ofSeconds(1), 0, allBlocked, 8, List.of("X-Sim-Fail: 402")));
      assertThat(refused.errors()).isZero();
      assertThat(refused.blocked()).isEqualTo(100);
    }
  }

  @Test
  void searchFindsTheHighestPassingRate() throws Exception {
    try (SimulatedUpstream sim =
        SimulatedUpstream.builder().latency(Duration.ofMillis(5)).build().start()) {
      LoadOptions base =
          new LoadOptions(
              LoadCommandLine.normalize(sim.baseUrl()),
              1,
              Duration.ofSeconds(1),
              Duration.ofMillis(200),
              0.2,
              List.of(),
              16,
              Duration.ofSeconds(5),
              List.of(),
              "search",
              "pro",
              8);
      ByteArrayOutputStream buffer = new ByteArrayOutputStream();
      PrintStream out = new PrintStream(buffer, true, StandardCharsets.UTF_8);
      int max = new RateSearch(50, 2.0, 200, Duration.ofSeconds(1), 99, 2_000).run(base, out);
      assertThat(max).isEqualTo(200);
      assertThat(buffer.toString(StandardCharsets.UTF_8))
          .contains("STEP label=search rate=50 ")
          .contains("SEARCH label=search max_sustainable=200 first_failure=none");

      // 5 ms upstream latency can never meet a 1 ms p99.
      assertThat(new RateSearch(50, 2.0, 200, Duration.ofSeconds(1), 99, 1).run(base, out))
          .isZero();
    }
  }

  @Test
  void aResponsesUrlSendsResponsesApiRequests() throws Exception {
    try (SimulatedUpstream sim = SimulatedUpstream.builder().build().start()) {
      LoadOptions o =
          new LoadOptions(
              java.net.URI.create(sim.baseUrl() + "/responses"),
              100,
              Duration.ofSeconds(1),
              Duration.ZERO,
              0,
              List.of(),
              8,
              Duration.ofSeconds(5),
              List.of(),
              "responses",
              "pro",
              8);
      LoadResult r = LoadGenerator.run(o);
      assertThat(r.errors()).as("errors %s", r.errorKinds()).isZero();
      assertThat(r.ok()).isEqualTo(100);
      assertThat(sim.stats().responsesRequests()).isEqualTo(100);
      assertThat(sim.stats().chatRequests()).isZero();
      // Eight output tokens at most per answer, as max_output_tokens asked.
      assertThat(sim.stats().completionTokens()).isLessThanOrEqualTo(800);
      assertThatThrownBy(
              () ->
                  new LoadOptions(
                      o.url(),
                      100,
                      Duration.ofSeconds(1),
                      Duration.ZERO,
                      0.2,
                      List.of(),
                      8,
                      Duration.ofSeconds(5),
                      List.of(),
                      "responses",
                      "pro",
                      8))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("--stream-fraction 0");
    }
  }

  @Test
  void streamsCanGoToTheirOwnUrlAndModel() throws Exception {
    try (SimulatedUpstream plain = SimulatedUpstream.builder().build().start();
        SimulatedUpstream streams = SimulatedUpstream.builder().build().start()) {
      LoadResult r =
          LoadGenerator.run(
              new LoadOptions(
                  LoadCommandLine.normalize(plain.baseUrl()),
                  100,
                  Duration.ofSeconds(1),
                  Duration.ZERO,
                  0.5,
                  List.of(),
                  8,
                  Duration.ofSeconds(5),
                  List.of(),
                  "split",
                  "pro",
                  8,
                  LoadCommandLine.normalize(streams.baseUrl()),
                  "slow",
                  null));
      assertThat(r.errors()).as("errors %s", r.errorKinds()).isZero();
      assertThat(plain.stats().streamedResponses()).isZero();
      assertThat(plain.stats().completedResponses()).isEqualTo(r.plain().getTotalCount());
      assertThat(streams.stats().streamedResponses()).isEqualTo(r.stream().getTotalCount());
      assertThat(streams.stats().completedResponses()).isEqualTo(r.stream().getTotalCount());
      assertThat(r.stream().getTotalCount()).isBetween(40L, 60L);
    }
  }

  @Test
  void streamSelectionIsDeterministicAndMatchesTheFraction() {
    int streams = 0;
    for (long i = 0; i < 100_000; i++) {
      if (LoadGenerator.isStream(i, 0.2)) {
        streams++;
      }
    }
    assertThat(streams).isBetween(19_500, 20_500);
    assertThat(LoadGenerator.isStream(12345, 0.2)).isEqualTo(LoadGenerator.isStream(12345, 0.2));
  }
}

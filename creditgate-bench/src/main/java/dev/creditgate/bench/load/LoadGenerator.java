package dev.creditgate.bench.load;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Open-loop HTTP load generator for chat completions. Request {@code i} is due at {@code start + i
 * / rate}, whatever happened to earlier ones, and its latency is measured from that intended time,
 * not from when a connection became free to send it: a server that stalls sees the stall in every
 * request queued behind it (no coordinated omission, as in wrk2).
 *
 * <p>Each of {@code --connections} workers (virtual threads, one keep-alive connection each) claims
 * the next due request, waits for its time, sends it and reads the whole response. The mix is
 * deterministic per request index: a fixed fraction streams ({@code "stream": true,
 * "stream_options": {"include_usage": true}}), keys rotate through the keys file, and a key marked
 * {@code blocked} must be answered 402, any other 200. A response with another status, a stream
 * without its final {@code [DONE]}, an I/O error or a request that could not even be sent within
 * the timeout is an error.
 *
 * <p>{@code --search} steps the rate up (times {@code --search-factor}) until p99 exceeds {@code
 * --p99-limit-ms}, an error appears or the achieved rate falls below 95% of the target (in a step
 * and in its one retry), then bisects twice between the last pass and the first failure, and prints
 * the highest rate that passed.
 */
public final class LoadGenerator {

  /** Requests whose achieved rate is at least this share of the target pass the search. */
  static final double SUSTAINED_SHARE = 0.95;

  private static final long HIGHEST_MICROS = TimeUnit.MINUTES.toMicros(10);
  private static final int PROMPT_VARIANTS = 64;

  /** One API key, and whether the target should refuse it (402). */
  public record Key(String token, boolean blocked) {}

  /** Validated options for one run. */
  public record Options(
      URI url,
      int rate,
      Duration duration,
      Duration warmup,
      double streamFraction,
      List<Key> keys,
      int connections,
      Duration timeout,
      List<String> headers,
      String label,
      String model,
      int maxTokens,
      URI streamUrl,
      String streamModel) {

    public static final Duration DEFAULT_DURATION = Duration.ofSeconds(10);
    public static final Duration DEFAULT_WARMUP = Duration.ofSeconds(3);
    public static final int DEFAULT_CONNECTIONS = 128;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    public static final String DEFAULT_MODEL = "pro";
    public static final int DEFAULT_MAX_TOKENS = 32;

    public Options {
      Objects.requireNonNull(url, "url");
      if (!"http".equals(url.getScheme()) || url.getHost() == null) {
        throw new IllegalArgumentException("url must be an http:// URL, but was " + url);
      }
      if (rate < 1) {
        throw new IllegalArgumentException("rate must be positive, but was " + rate);
      }
      if (duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException("duration must be positive, but was " + duration);
      }
      if (warmup.isNegative()) {
        throw new IllegalArgumentException("warmup must not be negative, but was " + warmup);
      }
      if (!(streamFraction >= 0 && streamFraction <= 1)) {
        throw new IllegalArgumentException(
            "streamFraction must be between 0 and 1, but was " + streamFraction);
      }
      keys = List.copyOf(keys);
      if (connections < 1) {
        throw new IllegalArgumentException("connections must be positive, but was " + connections);
      }
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, but was " + timeout);
      }
      headers = List.copyOf(headers);
      for (String header : headers) {
        if (header.indexOf(':') <= 0 || header.contains("\r") || header.contains("\n")) {
          throw new IllegalArgumentException(
              "header must look like 'Name: value', but was '" + header + "'");
        }
      }
      if (maxTokens < 1) {
        throw new IllegalArgumentException("maxTokens must be positive, but was " + maxTokens);
      }
      Objects.requireNonNull(model, "model");
      streamUrl = streamUrl == null ? url : streamUrl;
      if (!"http".equals(streamUrl.getScheme()) || streamUrl.getHost() == null) {
        throw new IllegalArgumentException(
            "streamUrl must be an http:// URL, but was " + streamUrl);
      }
      streamModel = streamModel == null ? model : streamModel;
      if (streamFraction > 0 && isResponses(streamUrl)) {
        throw new IllegalArgumentException(
            "streams to the Responses API are not measured; use --stream-fraction 0 with " + url);
      }
    }

    /** Options where streams go to the same URL and model as everything else. */
    public Options(
        URI url,
        int rate,
        Duration duration,
        Duration warmup,
        double streamFraction,
        List<Key> keys,
        int connections,
        Duration timeout,
        List<String> headers,
        String label,
        String model,
        int maxTokens) {
      this(
          url,
          rate,
          duration,
          warmup,
          streamFraction,
          keys,
          connections,
          timeout,
          headers,
          label,
          model,
          maxTokens,
          null,
          null);
    }

    Options withRate(int newRate, Duration newDuration) {
      return new Options(
          url,
          newRate,
          newDuration,
          warmup,
          streamFraction,
          keys,
          connections,
          timeout,
          headers,
          label,
          model,
          maxTokens,
          streamUrl,
          streamModel);
    }
  }

  /** Where {@link #run} writes its timeline ({@code --timeline}), or null for none. */
  static volatile Path timelineFile;

  /**
   * Latency over time, per 100 ms of intended send time: calls, the slowest, and how many took over
   * 40 ms (twice the simulated upstream's latency), to tell a steady tail from stalls.
   */
  static final class Timeline {
    static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    static final long SLOW_MICROS = 40_000;
    private final AtomicLongArray count;
    private final AtomicLongArray slow;
    private final AtomicLongArray max;

    Timeline(long measureNanos) {
      int slices = (int) (measureNanos / SLICE_NANOS) + 1;
      count = new AtomicLongArray(slices);
      slow = new AtomicLongArray(slices);
      max = new AtomicLongArray(slices);
    }

    void record(long sinceStartNanos, long micros) {
      int i = (int) Math.min(count.length() - 1, sinceStartNanos / SLICE_NANOS);
      count.incrementAndGet(i);
      if (micros > SLOW_MICROS) {
        slow.incrementAndGet(i);
      }
      max.accumulateAndGet(i, micros, Math::max);
    }

    void write(Path file) {
      StringBuilder out = new StringBuilder("t_ms\tcalls\tover_40ms\tmax_ms\n");
      for (int i = 0; i < count.length(); i++) {
        out.append(i * 100)
            .append('\t')
            .append(count.get(i))
            .append('\t')
            .append(slow.get(i))
            .append('\t')
            .append(max.get(i) / 1000)
            .append('\n');
      }
      try {
        Files.writeString(file, out);
      } catch (IOException e) {
        System.err.println("cannot write the timeline " + file + ": " + e);
      }
    }
  }

  /** What one run measured; latencies in microseconds from the intended send time. */
  public record Result(
      Options options,
      double measuredSeconds,
      long sent,
      long completed,
      double achievedRate,
      long ok,
      long blocked,
      long errors,
      Map<String, Long> errorKinds,
      Map<Integer, Long> statuses,
      long reconnects,
      Histogram all,
      Histogram plain,
      Histogram stream,
      Histogram streamFirstByte) {

    /** Whether this run counts as sustained: no errors, the rate achieved, p99 under the limit. */
    public boolean sustained(double p99LimitMillis) {
      return sustained(99, p99LimitMillis);
    }

    /** As {@link #sustained(double)} with another percentile. */
    public boolean sustained(double percentile, double limitMillis) {
      return errors == 0
          && achievedRate >= SUSTAINED_SHARE * options.rate()
          && all.getTotalCount() > 0
          && all.getValueAtPercentile(percentile) / 1000.0 <= limitMillis;
    }
  }

  private LoadGenerator() {}

  /** Runs the warm-up and then the measured period, and returns what the measured period saw. */
  public static Result run(Options o) throws InterruptedException {
    InetSocketAddress address = new InetSocketAddress(o.url().getHost(), port(o.url()));
    InetSocketAddress streamAddress =
        new InetSocketAddress(o.streamUrl().getHost(), port(o.streamUrl()));
    boolean separateStreams = !streamAddress.equals(address);
    List<byte[][]> requests = prepare(o);
    long intervalScale = TimeUnit.SECONDS.toNanos(1);
    long warmupNanos = o.warmup().toNanos();
    long measureNanos = o.duration().toNanos();
    long timeoutNanos = o.timeout().toNanos();
    // Workers start a little before the first due time so none of them is late to begin with.
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    long measureStart = start + warmupNanos;
    long end = measureStart + measureNanos;

    AtomicLong ticket = new AtomicLong();
    AtomicLong lastDone = new AtomicLong(end);
    Recorder all = recorder();
    Recorder plain = recorder();
    Recorder stream = recorder();
    Recorder streamFirstByte = recorder();
    LongAdder sent = new LongAdder();
    LongAdder completed = new LongAdder();
    LongAdder ok = new LongAdder();
    LongAdder blocked = new LongAdder();
    LongAdder reconnects = new LongAdder();
    Map<String, LongAdder> errorKinds = new ConcurrentHashMap<>();
    Map<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
    Timeline timeline = timelineFile == null ? null : new Timeline(measureNanos);

    Runnable worker =
        () -> {
          int timeoutMillis = (int) o.timeout().toMillis();
          try (RawHttpConnection plainConnection = new RawHttpConnection(address, timeoutMillis);
              RawHttpConnection streamConnection =
                  separateStreams
                      ? new RawHttpConnection(streamAddress, timeoutMillis)
                      : plainConnection) {
            while (true) {
              long i = ticket.getAndIncrement();
              long intended = start + i * intervalScale / o.rate();
              if (intended >= end) {
                break;
              }
              sleepUntil(intended);
              boolean measured = intended >= measureStart;
              if (System.nanoTime() - intended > timeoutNanos) {
                // So far behind that the request would be late before it is sent: a failure, and
                // skipping it lets the workers catch up instead of running long past the end.
                if (measured) {
                  errorKinds
                      .computeIfAbsent("not sent within timeout", k -> new LongAdder())
                      .increment();
                }
                continue;
              }
              int variant = (int) (i % requests.size());
              boolean isStream = isStream(i, o.streamFraction());
              int keyIndex = o.keys().isEmpty() ? 0 : keyIndex(i, o.keys().size());
              Key key = o.keys().isEmpty() ? null : o.keys().get(keyIndex);
              byte[] request = requests.get(variant)[keyIndex * 2 + (isStream ? 1 : 0)];
              if (measured) {
                sent.increment();
              }
              RawHttpConnection.Response response;
              try {
                response = (isStream ? streamConnection : plainConnection).exchange(request);
              } catch (IOException e) {
                if (measured) {
                  errorKinds
                      .computeIfAbsent("io: " + e.getClass().getSimpleName(), k -> new LongAdder())
                      .increment();
                }
                continue;
              }
              long done = System.nanoTime();
              if (!measured) {
                continue;
              }
              completed.increment();
              lastDone.accumulateAndGet(done, Math::max);
              statuses.computeIfAbsent(response.status(), k -> new LongAdder()).increment();
              int expected = key != null && key.blocked() ? 402 : 200;
              long micros = Math.min(HIGHEST_MICROS, (done - intended) / 1000);
              if (timeline != null) {
                timeline.record(intended - measureStart, micros);
              }
              if (response.status() != expected) {
                errorKinds
                    .computeIfAbsent(
                        "unexpected status " + response.status() + " (expected " + expected + ")",
                        k -> new LongAdder())
                    .increment();
              } else if (expected == 200 && isStream && !response.endsWithDone()) {
                errorKinds
                    .computeIfAbsent("stream without [DONE]", k -> new LongAdder())
                    .increment();
              } else {
                all.recordValue(micros);
                if (expected == 402) {
                  blocked.increment();
                } else {
                  ok.increment();
                  if (isStream) {
                    stream.recordValue(micros);
                    streamFirstByte.recordValue(
                        Math.min(HIGHEST_MICROS, (response.headersAtNanos() - intended) / 1000));
                  } else {
                    plain.recordValue(micros);
                  }
                }
              }
            }
            reconnects.add(
                plainConnection.reconnects()
                    + (separateStreams ? streamConnection.reconnects() : 0));
          }
        };

    List<Thread> threads = new ArrayList<>(o.connections());
    for (int c = 0; c < o.connections(); c++) {
      threads.add(Thread.ofVirtual().name("load-" + c).start(worker));
    }
    long joinDeadline = end + timeoutNanos + TimeUnit.SECONDS.toNanos(5);
    for (Thread thread : threads) {
      long wait = joinDeadline - System.nanoTime();
      if (wait > 0) {
        thread.join(Duration.ofNanos(wait));
      }
    }
    long stillRunning = threads.stream().filter(Thread::isAlive).count();
    threads.forEach(Thread::interrupt);

    if (timeline != null) {
      timeline.write(timelineFile);
    }
    Map<String, Long> kinds = new TreeMap<>();
    errorKinds.forEach((k, v) -> kinds.put(k, v.sum()));
    if (stillRunning > 0) {
      kinds.put("worker still running at the deadline", stillRunning);
    }
    Map<Integer, Long> statusCounts = new TreeMap<>();
    statuses.forEach((k, v) -> statusCounts.put(k, v.sum()));
    long errors = kinds.values().stream().mapToLong(Long::longValue).sum();
    // Responses to the measured requests over the time they took to arrive: a target that keeps
    // up finishes just after the period ends, one that falls behind stretches the denominator.
    double seconds = (lastDone.get() - measureStart) / 1e9;
    return new Result(
        o,
        seconds,
        sent.sum(),
        completed.sum(),
        completed.sum() / seconds,
        ok.sum(),
        blocked.sum(),
        errors,
        kinds,
        statusCounts,
        reconnects.sum(),
        all.getIntervalHistogram(),
        plain.getIntervalHistogram(),
        stream.getIntervalHistogram(),
        streamFirstByte.getIntervalHistogram());
  }

  /**
   * Highest rate that passes {@link Result#sustained}: geometric steps from {@code startRate}, then
   * two bisections between the last pass and the first failure.
   */
  public static int searchMaxRate(
      Options base,
      int startRate,
      double factor,
      int maxRate,
      Duration stepDuration,
      double p99LimitMillis,
      PrintStream out)
      throws InterruptedException {
    return searchMaxRate(base, startRate, factor, maxRate, stepDuration, 99, p99LimitMillis, out);
  }

  /** As above, with the latency limit on another percentile than p99. */
  public static int searchMaxRate(
      Options base,
      int startRate,
      double factor,
      int maxRate,
      Duration stepDuration,
      double percentile,
      double limitMillis,
      PrintStream out)
      throws InterruptedException {
    int lastPass = 0;
    int firstFail = 0;
    int rate = startRate;
    while (rate <= maxRate) {
      boolean pass = step(base, rate, stepDuration, percentile, limitMillis, out);
      if (!pass) {
        firstFail = rate;
        break;
      }
      lastPass = rate;
      rate = (int) Math.ceil(rate * factor);
    }
    for (int i = 0; i < 2 && firstFail > 0 && firstFail - lastPass > 1; i++) {
      int mid = (lastPass + firstFail) / 2;
      if (mid <= 0) {
        break;
      }
      boolean pass = step(base, mid, stepDuration, percentile, limitMillis, out);
      if (pass) {
        lastPass = mid;
      } else {
        firstFail = mid;
      }
    }
    out.printf(
        Locale.ROOT,
        "SEARCH label=%s max_sustainable=%d first_failure=%s percentile=%s"
            + " limit_ms=%.1f capped=%b%n",
        base.label(),
        lastPass,
        firstFail == 0 ? "none" : firstFail,
        percentile,
        limitMillis,
        firstFail == 0);
    return lastPass;
  }

  /**
   * One search step. A failed step is run once more and fails only if the retry fails too: on a
   * shared machine a burst of someone else's work can spoil one short step's p99.
   */
  private static boolean step(
      Options base,
      int rate,
      Duration stepDuration,
      double percentile,
      double limitMillis,
      PrintStream out)
      throws InterruptedException {
    for (int attempt = 1; attempt <= 2; attempt++) {
      Result r = run(base.withRate(rate, stepDuration));
      boolean pass = r.sustained(percentile, limitMillis);
      out.println(searchLine(r, pass) + (attempt == 2 ? " (retry)" : ""));
      if (pass) {
        return true;
      }
    }
    return false;
  }

  private static String searchLine(Result r, boolean pass) {
    return String.format(
        Locale.ROOT,
        "STEP label=%s rate=%d achieved=%.1f errors=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f"
            + " p999_ms=%.3f %s",
        r.options().label(),
        r.options().rate(),
        r.achievedRate(),
        r.errors(),
        ms(r.all(), 50),
        ms(r.all(), 90),
        ms(r.all(), 99),
        ms(r.all(), 99.9),
        pass ? "PASS" : "FAIL");
  }

  /** Prints the human-readable report and one RESULT line for scripts. */
  public static void print(Result r, PrintStream out) {
    Options o = r.options();
    out.printf(
        Locale.ROOT,
        "== %s: %d req/s for %s (warm-up %s), %d connections, stream fraction %.2f, %d keys%n",
        o.label(),
        o.rate(),
        o.duration(),
        o.warmup(),
        o.connections(),
        o.streamFraction(),
        o.keys().size());
    out.printf(
        Locale.ROOT,
        "sent %d, completed %d (achieved %.1f req/s), ok %d, blocked(402) %d, errors %d,"
            + " reconnects %d, statuses %s%n",
        r.sent(),
        r.completed(),
        r.achievedRate(),
        r.ok(),
        r.blocked(),
        r.errors(),
        r.reconnects(),
        r.statuses());
    r.errorKinds().forEach((k, v) -> out.printf("  error: %s x %d%n", k, v));
    out.println(
        "latency ms from intended send    count      p50      p90      p99    p99.9      max");
    row(out, "all (expected status)", r.all());
    row(out, "non-streaming 200", r.plain());
    row(out, "streaming 200, to [DONE]", r.stream());
    row(out, "streaming 200, to headers", r.streamFirstByte());
    out.printf(
        Locale.ROOT,
        "RESULT label=%s rate=%d achieved=%.1f sent=%d completed=%d ok=%d blocked=%d errors=%d"
            + " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f"
            + " stream_p50_ms=%.3f stream_p99_ms=%.3f%n",
        o.label(),
        o.rate(),
        r.achievedRate(),
        r.sent(),
        r.completed(),
        r.ok(),
        r.blocked(),
        r.errors(),
        ms(r.all(), 50),
        ms(r.all(), 90),
        ms(r.all(), 99),
        ms(r.all(), 99.9),
        r.all().getMaxValue() / 1000.0,
        ms(r.stream(), 50),
        ms(r.stream(), 99));
  }

  private static void row(PrintStream out, String name, Histogram h) {
    out.printf(
        Locale.ROOT,
        "  %-30s %7d %8.3f %8.3f %8.3f %8.3f %8.3f%n",
        name,
        h.getTotalCount(),
        ms(h, 50),
        ms(h, 90),
        ms(h, 99),
        ms(h, 99.9),
        h.getMaxValue() / 1000.0);
  }

  private static double ms(Histogram h, double percentile) {
    return h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(percentile) / 1000.0;
  }

  static boolean isStream(long i, double fraction) {
    // Golden-ratio sequence: evenly spread and deterministic, so every target sees the same mix.
    double u = ((i * 0x9E3779B97F4A7C15L) >>> 11) * 0x1.0p-53;
    return u < fraction;
  }

  static int keyIndex(long i, int keys) {
    return (int) Math.floorMod(i * 0xC2B2AE3D27D4EB4FL >>> 17, (long) keys);
  }

  /** Request bytes per prompt variant: [key * 2 + (stream ? 1 : 0)]. */
  private static List<byte[][]> prepare(Options o) {
    List<byte[][]> variants = new ArrayList<>(PROMPT_VARIANTS);
    int keyCount = Math.max(1, o.keys().size());
    for (int v = 0; v < PROMPT_VARIANTS; v++) {
      byte[][] forKeys = new byte[keyCount * 2][];
      for (int k = 0; k < keyCount; k++) {
        Key key = o.keys().isEmpty() ? null : o.keys().get(k);
        for (int s = 0; s < 2; s++) {
          URI target = s == 1 ? o.streamUrl() : o.url();
          String path = target.getRawPath().isEmpty() ? "/" : target.getRawPath();
          String hostHeader = target.getHost() + ":" + port(target);
          String body =
              isResponses(target)
                  ? responsesBody(o.model(), o.maxTokens(), v)
                  : body(s == 1 ? o.streamModel() : o.model(), o.maxTokens(), v, s == 1);
          StringBuilder head =
              new StringBuilder()
                  .append("POST ")
                  .append(path)
                  .append(" HTTP/1.1\r\n")
                  .append("Host: ")
                  .append(hostHeader)
                  .append("\r\n")
                  .append("Content-Type: application/json\r\n")
                  .append("Accept: ")
                  .append(s == 1 ? "text/event-stream" : "application/json")
                  .append("\r\n");
          if (key != null) {
            head.append("Authorization: Bearer ").append(key.token()).append("\r\n");
          }
          for (String header : o.headers()) {
            head.append(header).append("\r\n");
          }
          byte[] bodyBytes = body.getBytes(StandardCharsets.UTF_8);
          head.append("Content-Length: ").append(bodyBytes.length).append("\r\n\r\n");
          byte[] headBytes = head.toString().getBytes(StandardCharsets.UTF_8);
          byte[] request = new byte[headBytes.length + bodyBytes.length];
          System.arraycopy(headBytes, 0, request, 0, headBytes.length);
          System.arraycopy(bodyBytes, 0, request, headBytes.length, bodyBytes.length);
          forKeys[k * 2 + s] = request;
        }
      }
      variants.add(forKeys);
    }
    return variants;
  }

  /** Whether {@code url} is the Responses API's ({@code .../responses}). */
  static boolean isResponses(URI url) {
    return url.getRawPath() != null && url.getRawPath().endsWith("/responses");
  }

  private static String prompt(int variant) {
    return "Load test prompt number "
        + variant
        + ": summarise the credit ledger entries for this account in two sentences.";
  }

  /** A Responses API request with the same instructions and prompt as {@link #body}. */
  private static String responsesBody(String model, int maxTokens, int variant) {
    return "{\"model\":\""
        + model
        + "\",\"max_output_tokens\":"
        + maxTokens
        + ",\"instructions\":\"You are a concise assistant.\",\"input\":\""
        + prompt(variant)
        + "\"}";
  }

  private static String body(String model, int maxTokens, int variant, boolean stream) {
    String prompt = prompt(variant);
    return "{\"model\":\""
        + model
        + "\",\"max_tokens\":"
        + maxTokens
        + ",\"messages\":[{\"role\":\"system\",\"content\":\"You are a concise assistant.\"},"
        + "{\"role\":\"user\",\"content\":\""
        + prompt
        + "\"}]"
        + (stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "")
        + "}";
  }

  private static int port(URI url) {
    return url.getPort() > 0 ? url.getPort() : 80;
  }

  private static Recorder recorder() {
    return new Recorder(HIGHEST_MICROS, 3);
  }

  private static void sleepUntil(long deadline) {
    long remaining;
    while ((remaining = deadline - System.nanoTime()) > 0) {
      LockSupport.parkNanos(remaining);
    }
  }

  static List<Key> readKeys(Path file) throws IOException {
    List<Key> keys = new ArrayList<>();
    int lineNo = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      lineNo++;
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("#")) {
        continue;
      }
      String[] parts = trimmed.split("[,\\s]+");
      boolean blocked = parts.length > 1 && parts[1].equalsIgnoreCase("blocked");
      if (parts.length > 2 || (parts.length == 2 && !blocked)) {
        throw new IllegalArgumentException(
            file
                + " line "
                + lineNo
                + " must be 'KEY' or 'KEY,blocked', but was '"
                + trimmed
                + "'");
      }
      keys.add(new Key(parts[0], blocked));
    }
    if (keys.isEmpty()) {
      throw new IllegalArgumentException("keys file " + file + " has no keys");
    }
    return keys;
  }

  static final String USAGE =
      """
      usage: LoadGenerator --url http://HOST:PORT/v1/chat/completions [--rate 500] \
      [--duration 10s] [--warmup 3s] [--stream-fraction 0.2] [--keys FILE] [--connections 128] \
      [--timeout 10s] [--header 'Name: value']... [--label NAME] [--model pro] [--max-tokens 32] \
      [--stream-url URL] [--stream-model NAME] [--timeline FILE]
        [--search --search-start 500 --search-factor 1.3 --search-max 20000 --p99-limit-ms 50
         --search-percentile 99]   (--limit-ms is an alias of --p99-limit-ms; it limits the
                                    percentile given by --search-percentile)
      Keys file: one key per line, 'KEY' (expects 200) or 'KEY,blocked' (expects 402).
      A --url ending in /responses sends OpenAI Responses API requests (plain only).
      --timeline FILE: per 100 ms of the measured period, calls, calls over 40 ms and the slowest.""";

  public static void main(String[] args) throws Exception {
    String url = null;
    int rate = 500;
    Duration duration = Options.DEFAULT_DURATION;
    Duration warmup = Options.DEFAULT_WARMUP;
    double streamFraction = 0.2;
    List<Key> keys = List.of();
    int connections = Options.DEFAULT_CONNECTIONS;
    Duration timeout = Options.DEFAULT_TIMEOUT;
    List<String> headers = new ArrayList<>();
    String label = "load";
    String model = Options.DEFAULT_MODEL;
    int maxTokens = Options.DEFAULT_MAX_TOKENS;
    String streamUrl = null;
    String streamModel = null;
    boolean search = false;
    int searchStart = 500;
    double searchFactor = 1.3;
    int searchMax = 20_000;
    double p99Limit = 50;
    double searchPercentile = 99;
    try {
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (a.equals("--help") || a.equals("-h")) {
          System.out.println(USAGE);
          return;
        }
        if (a.equals("--search")) {
          search = true;
          continue;
        }
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("option " + a + " needs a value");
        }
        String v = args[++i];
        switch (a) {
          case "--url" -> url = v;
          case "--rate" -> rate = parseInt(a, v);
          case "--duration" -> duration = parseDuration(a, v);
          case "--warmup" -> warmup = parseDuration(a, v);
          case "--stream-fraction" -> streamFraction = parseDouble(a, v);
          case "--keys", "--accounts" -> keys = readKeys(Path.of(v));
          case "--connections" -> connections = parseInt(a, v);
          case "--timeout" -> timeout = parseDuration(a, v);
          case "--header" -> headers.add(v);
          case "--label" -> label = v;
          case "--model" -> model = v;
          case "--max-tokens" -> maxTokens = parseInt(a, v);
          case "--stream-url" -> streamUrl = v;
          case "--stream-model" -> streamModel = v;
          case "--search-start" -> searchStart = parseInt(a, v);
          case "--search-factor" -> searchFactor = parseDouble(a, v);
          case "--search-max" -> searchMax = parseInt(a, v);
          case "--p99-limit-ms", "--limit-ms" -> p99Limit = parseDouble(a, v);
          case "--search-percentile" -> searchPercentile = parseDouble(a, v);
          case "--timeline" -> timelineFile = Path.of(v);
          default -> throw new IllegalArgumentException("unknown option '" + a + "'");
        }
      }
      if (url == null) {
        throw new IllegalArgumentException("--url is required");
      }
      if (searchFactor <= 1) {
        throw new IllegalArgumentException(
            "--search-factor must be above 1, but was " + searchFactor);
      }
      Options options =
          new Options(
              normalize(url),
              rate,
              duration,
              warmup,
              streamFraction,
              keys,
              connections,
              timeout,
              headers,
              label,
              model,
              maxTokens,
              streamUrl == null ? null : normalize(streamUrl),
              streamModel);
      if (search) {
        if (!(searchPercentile > 0 && searchPercentile < 100)) {
          throw new IllegalArgumentException(
              "--search-percentile must be between 0 and 100, but was " + searchPercentile);
        }
        searchMaxRate(
            options,
            searchStart,
            searchFactor,
            searchMax,
            duration,
            searchPercentile,
            p99Limit,
            System.out);
      } else {
        print(run(options), System.out);
      }
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
    }
  }

  static URI normalize(String url) {
    URI uri;
    try {
      uri = URI.create(url);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--url is not a URL: '" + url + "'", e);
    }
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    if (path.isEmpty() || path.equals("/") || path.endsWith("/v1") || path.endsWith("/v1/")) {
      String base = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
      if (!base.endsWith("/v1")) {
        base = base + "/v1";
      }
      return uri.resolve(base + "/chat/completions");
    }
    return uri;
  }

  private static int parseInt(String option, String value) {
    try {
      return Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + " must be an integer, but was '" + value + "'");
    }
  }

  private static double parseDouble(String option, String value) {
    try {
      return Double.parseDouble(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + " must be a number, but was '" + value + "'");
    }
  }

  /** "15s", "500ms", "2m", or a bare number of seconds. */
  static Duration parseDuration(String option, String value) {
    try {
      if (value.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(value.substring(0, value.length() - 2)));
      }
      if (value.endsWith("s")) {
        return Duration.ofSeconds(Long.parseLong(value.substring(0, value.length() - 1)));
      }
      if (value.endsWith("m")) {
        return Duration.ofMinutes(Long.parseLong(value.substring(0, value.length() - 1)));
      }
      return Duration.ofSeconds(Long.parseLong(value));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          option + " must be a duration like 15s or 500ms, but was '" + value + "'");
    }
  }
}

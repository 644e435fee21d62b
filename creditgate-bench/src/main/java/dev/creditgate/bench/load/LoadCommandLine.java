package dev.creditgate.bench.load;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The load generator's command line, parsed. The scripts under bench/ call it with these options;
 * an option's name or meaning must not change.
 *
 * @param help whether {@code --help} came before any error; then nothing else is set
 * @param options the run, or each search step's run with the step's rate and duration
 * @param search the search to run ({@code --search}), or null for one run
 */
record LoadCommandLine(boolean help, LoadOptions options, RateSearch search) {

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

  /**
   * Parses {@code args}, reading the keys file as it comes.
   *
   * @throws IllegalArgumentException naming the option that is missing, unknown or invalid
   * @throws IOException when the keys file cannot be read
   */
  static LoadCommandLine parse(String[] args) throws IOException {
    String url = null;
    int rate = LoadOptions.DEFAULT_RATE;
    Duration duration = LoadOptions.DEFAULT_DURATION;
    Duration warmup = LoadOptions.DEFAULT_WARMUP;
    double streamFraction = LoadOptions.DEFAULT_STREAM_FRACTION;
    List<LoadOptions.Key> keys = List.of();
    int connections = LoadOptions.DEFAULT_CONNECTIONS;
    Duration timeout = LoadOptions.DEFAULT_TIMEOUT;
    List<String> headers = new ArrayList<>();
    String label = LoadOptions.DEFAULT_LABEL;
    String model = LoadOptions.DEFAULT_MODEL;
    int maxTokens = LoadOptions.DEFAULT_MAX_TOKENS;
    String streamUrl = null;
    String streamModel = null;
    Path timeline = null;
    boolean search = false;
    int searchStart = RateSearch.DEFAULT_START_RATE;
    double searchFactor = RateSearch.DEFAULT_FACTOR;
    int searchMax = RateSearch.DEFAULT_MAX_RATE;
    double limitMillis = RateSearch.DEFAULT_LIMIT_MILLIS;
    double searchPercentile = RateSearch.DEFAULT_PERCENTILE;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        return new LoadCommandLine(true, null, null);
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
        case "--p99-limit-ms", "--limit-ms" -> limitMillis = parseDouble(a, v);
        case "--search-percentile" -> searchPercentile = parseDouble(a, v);
        case "--timeline" -> timeline = Path.of(v);
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
    LoadOptions options =
        new LoadOptions(
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
            streamModel,
            timeline);
    if (!search) {
      return new LoadCommandLine(false, options, null);
    }
    if (!(searchPercentile > 0 && searchPercentile < 100)) {
      throw new IllegalArgumentException(
          "--search-percentile must be between 0 and 100, but was " + searchPercentile);
    }
    return new LoadCommandLine(
        false,
        options,
        new RateSearch(
            searchStart, searchFactor, searchMax, duration, searchPercentile, limitMillis));
  }

  /** A keys file: one key per line, {@code KEY} or {@code KEY,blocked}; {@code #} comments. */
  static List<LoadOptions.Key> readKeys(Path file) throws IOException {
    List<LoadOptions.Key> keys = new ArrayList<>();
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
      keys.add(new LoadOptions.Key(parts[0], blocked));
    }
    if (keys.isEmpty()) {
      throw new IllegalArgumentException("keys file " + file + " has no keys");
    }
    return keys;
  }

  /** The chat completions URL of a base URL ({@code http://host:port} or {@code .../v1}). */
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

package dev.creditgate.bench.load;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Validated options of one {@link LoadGenerator#run}; the command line's defaults are the {@code
 * DEFAULT_} constants.
 *
 * @param streamUrl where streaming requests go; null for {@code url}
 * @param streamModel the model streaming requests name; null for {@code model}
 * @param timeline where the run writes its latency per 100 ms ({@link Timeline}); null for none
 */
public record LoadOptions(
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
    String streamModel,
    Path timeline) {

  public static final int DEFAULT_RATE = 500;
  public static final Duration DEFAULT_DURATION = Duration.ofSeconds(10);
  public static final Duration DEFAULT_WARMUP = Duration.ofSeconds(3);
  public static final double DEFAULT_STREAM_FRACTION = 0.2;
  public static final int DEFAULT_CONNECTIONS = 128;
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
  public static final String DEFAULT_LABEL = "load";
  public static final String DEFAULT_MODEL = "pro";
  public static final int DEFAULT_MAX_TOKENS = 32;

  /** One API key, and whether the target should refuse it (402). */
  public record Key(String token, boolean blocked) {}

  public LoadOptions {
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
      throw new IllegalArgumentException("streamUrl must be an http:// URL, but was " + streamUrl);
    }
    streamModel = streamModel == null ? model : streamModel;
    if (streamFraction > 0 && RequestTemplates.isResponses(streamUrl)) {
      throw new IllegalArgumentException(
          "streams to the Responses API are not measured; use --stream-fraction 0 with " + url);
    }
  }

  /** Options where streams go to the same URL and model as everything else, and no timeline. */
  public LoadOptions(
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
        null,
        null);
  }

  /** The same run at another rate for another time: one step of a {@link RateSearch}. */
  LoadOptions withRate(int newRate, Duration newDuration) {
    return new LoadOptions(
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
        streamModel,
        timeline);
  }
}

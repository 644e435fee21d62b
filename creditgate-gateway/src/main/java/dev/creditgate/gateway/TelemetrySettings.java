package dev.creditgate.gateway;

import java.net.URI;

/**
 * Where the gateway exports its traces: one OpenTelemetry trace per chat call, over OTLP/HTTP.
 *
 * @param otlpEndpoint the OTLP/HTTP traces endpoint ({@code telemetry.otlp-endpoint}, such as
 *     {@code http://collector:4318/v1/traces}; a collector's address without a path gets {@value
 *     #TRACES_PATH}); empty (the default): no tracing
 * @param sampleRatio the share of calls traced when the client sent no {@code traceparent} ({@code
 *     telemetry.trace-sample-ratio}, 0 to 1, default {@value #DEFAULT_SAMPLE_RATIO})
 * @param serviceName the spans' {@code service.name} ({@code telemetry.service-name}, default
 *     {@value #DEFAULT_SERVICE_NAME})
 */
public record TelemetrySettings(String otlpEndpoint, double sampleRatio, String serviceName) {

  public static final double DEFAULT_SAMPLE_RATIO = 0.1;
  public static final String DEFAULT_SERVICE_NAME = "creditgate";

  /** The OTLP/HTTP traces path, added to an endpoint given without a path. */
  public static final String TRACES_PATH = "/v1/traces";

  /** No tracing. */
  public static final TelemetrySettings OFF =
      new TelemetrySettings("", DEFAULT_SAMPLE_RATIO, DEFAULT_SERVICE_NAME);

  public TelemetrySettings {
    otlpEndpoint = otlpEndpoint == null ? "" : otlpEndpoint.trim();
    if (!(sampleRatio >= 0 && sampleRatio <= 1)) {
      throw new ConfigException(
          "telemetry.trace-sample-ratio must be between 0 and 1, but was " + sampleRatio);
    }
    if (serviceName == null || serviceName.isBlank()) {
      throw new ConfigException("telemetry.service-name must not be empty");
    }
  }

  /** Whether calls are traced. */
  public boolean tracing() {
    return !otlpEndpoint.isEmpty();
  }

  static TelemetrySettings read(ConfigReader r) {
    String endpoint = r.string("telemetry.otlp-endpoint", "");
    if (!endpoint.isEmpty()) {
      URI uri;
      try {
        uri = URI.create(endpoint);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(
            "telemetry.otlp-endpoint must be an http(s) URL, but was '" + endpoint + "'");
      }
      if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
          || uri.getHost() == null) {
        throw new ConfigException(
            "telemetry.otlp-endpoint must be an http(s) URL, but was '" + endpoint + "'");
      }
      String path = uri.getRawPath();
      if (path == null || path.isEmpty() || path.equals("/")) {
        // A collector's address alone: its OTLP/HTTP traces path.
        endpoint = endpoint.replaceAll("/+$", "") + TRACES_PATH;
      }
    }
    String ratio = r.string("telemetry.trace-sample-ratio", "");
    double sampleRatio;
    try {
      sampleRatio = ratio.isEmpty() ? DEFAULT_SAMPLE_RATIO : Double.parseDouble(ratio);
    } catch (NumberFormatException e) {
      throw new ConfigException(
          "telemetry.trace-sample-ratio must be a number between 0 and 1, but was '" + ratio + "'");
    }
    return new TelemetrySettings(
        endpoint, sampleRatio, r.string("telemetry.service-name", DEFAULT_SERVICE_NAME));
  }
}

package dev.creditgate.gateway.internal;

import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.pricing.Usage;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The client metrics of the OpenTelemetry semantic conventions for generative AI, for the gateway's
 * calls to its upstreams, next to the {@code creditgate_*} meters:
 *
 * <ul>
 *   <li>{@code gen_ai.client.token.usage}: a histogram of the tokens each call was charged for, by
 *       {@code gen_ai.token.type} ({@code input}, {@code output}); in Prometheus text {@code
 *       gen_ai_client_token_usage_bucket/_count/_sum}. The usage is the upstream's report, or the
 *       gateway's own count where the call was charged on it (see the charge's entry).
 *   <li>{@code gen_ai.client.operation.duration}: seconds from sending the request upstream to the
 *       end of its answer (the last byte of a stream); {@code
 *       gen_ai_client_operation_duration_seconds_*}. {@code error.type} is the HTTP status the
 *       client got when the call failed, empty (no label, to Prometheus) when it succeeded.
 * </ul>
 *
 * <p>Both carry {@code gen_ai.operation.name} ({@code chat}, or {@code embeddings}), {@code
 * gen_ai.provider.name} (the route's {@code provider}, {@code _OTHER} when not set) and {@code
 * gen_ai.request.model} (the provider's model the route sends, else the alias). Bucket boundaries
 * are the conventions' advised ones. Only configured routes reach here, so callers cannot grow the
 * number of series.
 */
final class GenAiMetrics {

  static final String TOKEN_USAGE = "gen_ai.client.token.usage";
  static final String OPERATION_DURATION = "gen_ai.client.operation.duration";

  /** The conventions' advised bucket boundaries for token counts: powers of 4 from 1 to 4^13. */
  private static final double[] TOKEN_BUCKETS = powers(4, 14);

  /** The conventions' advised bucket boundaries for durations: 0.01 s doubling up to 81.92 s. */
  private static final Duration[] DURATION_BUCKETS = doublings(Duration.ofMillis(10), 14);

  private final MeterRegistry registry;
  private final ConcurrentHashMap<List<String>, Meter> meters = new ConcurrentHashMap<>();

  GenAiMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  /**
   * Records one call that reached its upstream.
   *
   * @param usage what the call was charged for; null when it was not charged
   * @param status the HTTP status its client got
   */
  void record(String operation, ModelRoute route, Usage usage, int status, long nanos) {
    String provider = route.provider().isEmpty() ? "_OTHER" : route.provider();
    String model = route.model().isEmpty() ? route.alias() : route.model();
    String error = status >= 400 ? Integer.toString(status) : "";
    this.<Timer>meter(
            r ->
                Timer.builder(OPERATION_DURATION)
                    .description("GenAI operation duration")
                    .tags(
                        "gen_ai.operation.name", operation,
                        "gen_ai.provider.name", provider,
                        "gen_ai.request.model", model,
                        "error.type", error)
                    .serviceLevelObjectives(DURATION_BUCKETS)
                    .register(r),
            OPERATION_DURATION,
            operation,
            provider,
            model,
            error)
        .record(nanos, TimeUnit.NANOSECONDS);
    if (usage != null) {
      tokens(operation, provider, model, "input", usage.inputTokens());
      tokens(operation, provider, model, "output", usage.outputTokens());
    }
  }

  private void tokens(String operation, String provider, String model, String type, long tokens) {
    this.<DistributionSummary>meter(
            r ->
                DistributionSummary.builder(TOKEN_USAGE)
                    .description("Number of input and output tokens used")
                    .tags(
                        "gen_ai.operation.name", operation,
                        "gen_ai.provider.name", provider,
                        "gen_ai.request.model", model,
                        "gen_ai.token.type", type)
                    .serviceLevelObjectives(TOKEN_BUCKETS)
                    .register(r),
            TOKEN_USAGE,
            operation,
            provider,
            model,
            type)
        .record(tokens);
  }

  @SuppressWarnings("unchecked")
  private <M extends Meter> M meter(Function<MeterRegistry, M> register, String... key) {
    return (M) meters.computeIfAbsent(List.of(key), k -> register.apply(registry));
  }

  private static double[] powers(int base, int count) {
    double[] bounds = new double[count];
    double bound = 1;
    for (int i = 0; i < count; i++) {
      bounds[i] = bound;
      bound *= base;
    }
    return bounds;
  }

  private static Duration[] doublings(Duration first, int count) {
    Duration[] bounds = new Duration[count];
    Duration bound = first;
    for (int i = 0; i < count; i++) {
      bounds[i] = bound;
      bound = bound.multipliedBy(2);
    }
    return bounds;
  }
}

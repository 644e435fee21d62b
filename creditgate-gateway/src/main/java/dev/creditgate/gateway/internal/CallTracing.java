package dev.creditgate.gateway.internal;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One OpenTelemetry trace per chat call, exported over OTLP/HTTP (protobuf) by the OpenTelemetry
 * SDK; off unless an endpoint is configured. A call's root span ({@code chat <alias>}, kind server)
 * continues the client's W3C {@code traceparent} when it sends one, and its children are the call's
 * steps: {@code authenticate} (reading and checking the request and its key), {@code admit} (the
 * credit decision and the strict hold), {@code upstream} (kind client, from sending the request to
 * the end of the answer relayed) and {@code settle} (the charge). The steps' spans are written when
 * the call ends, from the times the chain recorded, so tracing adds no work inside them.
 *
 * <p>Sampling: the client's decision when it sent a {@code traceparent}, else the configured ratio
 * of trace ids. A sampled call's trace id is sent back in {@value #TRACE_ID_HEADER} and named in
 * the gateway's log lines about the call. Export is batched in the background with a bounded queue
 * (spans beyond it are dropped, never waited for) and a timeout per export.
 */
public final class CallTracing implements AutoCloseable {

  /** The response header that carries a sampled call's trace id (32 hex digits). */
  public static final String TRACE_ID_HEADER = "X-Creditgate-Trace-Id";

  /** How long one export may take, and how long closing waits for the last ones. */
  public static final Duration EXPORT_TIMEOUT = Duration.ofSeconds(10);

  /** Tracing switched off: no span, no header. */
  public static final CallTracing OFF = new CallTracing(null, null);

  private static final Logger LOG = LoggerFactory.getLogger(CallTracing.class);

  private static final AttributeKey<String> REQUEST_ID =
      AttributeKey.stringKey("creditgate.request_id");
  private static final AttributeKey<String> ACCOUNT_ID =
      AttributeKey.stringKey("creditgate.account_id");
  private static final AttributeKey<String> ALIAS = AttributeKey.stringKey("creditgate.alias");
  private static final AttributeKey<Long> CHARGED =
      AttributeKey.longKey("creditgate.charged_credits");
  private static final AttributeKey<Long> STATUS =
      AttributeKey.longKey("http.response.status_code");
  private static final AttributeKey<String> OPERATION =
      AttributeKey.stringKey("gen_ai.operation.name");
  private static final AttributeKey<String> PROVIDER =
      AttributeKey.stringKey("gen_ai.provider.name");
  private static final AttributeKey<String> MODEL = AttributeKey.stringKey("gen_ai.request.model");
  private static final AttributeKey<Long> INPUT_TOKENS =
      AttributeKey.longKey("gen_ai.usage.input_tokens");
  private static final AttributeKey<Long> OUTPUT_TOKENS =
      AttributeKey.longKey("gen_ai.usage.output_tokens");

  private static final TextMapGetter<io.javalin.http.Context> HEADERS =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(io.javalin.http.Context carrier) {
          return carrier.headerMap().keySet();
        }

        @Override
        public String get(io.javalin.http.Context carrier, String key) {
          return carrier == null ? null : carrier.header(key);
        }
      };

  private final SdkTracerProvider provider;
  private final Tracer tracer;

  private CallTracing(SdkTracerProvider provider, Tracer tracer) {
    this.provider = provider;
    this.tracer = tracer;
  }

  /**
   * Tracing that exports to an OTLP/HTTP endpoint.
   *
   * @param endpoint the traces endpoint, such as {@code http://collector:4318/v1/traces}
   * @param sampleRatio the share of calls traced when the client did not decide (0 to 1)
   * @param serviceName the {@code service.name} of the spans' resource
   */
  public static CallTracing otlp(String endpoint, double sampleRatio, String serviceName) {
    if (!(sampleRatio >= 0 && sampleRatio <= 1)) {
      throw new IllegalArgumentException(
          "sampleRatio must be between 0 and 1, but was " + sampleRatio);
    }
    OtlpHttpSpanExporter exporter =
        OtlpHttpSpanExporter.builder().setEndpoint(endpoint).setTimeout(EXPORT_TIMEOUT).build();
    SdkTracerProvider provider =
        SdkTracerProvider.builder()
            .setResource(
                Resource.getDefault()
                    .merge(
                        Resource.create(
                            Attributes.of(AttributeKey.stringKey("service.name"), serviceName))))
            .setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(sampleRatio)))
            .addSpanProcessor(
                BatchSpanProcessor.builder(exporter).setExporterTimeout(EXPORT_TIMEOUT).build())
            .build();
    return new CallTracing(provider, provider.get("dev.creditgate.gateway"));
  }

  /**
   * Starts the call's root span and, when the call is sampled, sends its trace id back in {@value
   * #TRACE_ID_HEADER}; does nothing when tracing is off.
   */
  void start(CallExchange x) {
    if (tracer == null) {
      return;
    }
    Context parent =
        W3CTraceContextPropagator.getInstance().extract(Context.root(), x.ctx, HEADERS);
    Span root =
        tracer
            .spanBuilder(x.api.operation())
            .setParent(parent)
            .setSpanKind(SpanKind.SERVER)
            .setStartTimestamp(x.startEpochNanos, TimeUnit.NANOSECONDS)
            .startSpan();
    if (root.getSpanContext().isSampled()) {
      x.span = root;
      x.traceId = root.getSpanContext().getTraceId();
      x.ctx.header(TRACE_ID_HEADER, x.traceId);
    }
  }

  /** Writes the call's step spans and ends its root span; nothing for a call not traced. */
  void finish(CallExchange x, long endTick) {
    Span root = x.span;
    if (root == null) {
      return;
    }
    x.span = null;
    try {
      root.updateName(x.api.operation() + " " + x.alias());
      root.setAttribute(OPERATION, x.api.operation());
      root.setAttribute(ALIAS, x.alias());
      root.setAttribute(STATUS, (long) x.status);
      if (x.requestId != null) {
        root.setAttribute(REQUEST_ID, x.requestId);
      }
      if (x.billing != null && x.billing.hasAccount()) {
        root.setAttribute(ACCOUNT_ID, x.billing.accountId());
      }
      if (x.chargedCredits >= 0) {
        root.setAttribute(CHARGED, x.chargedCredits);
      }
      if (x.status >= 500) {
        root.setStatus(StatusCode.ERROR);
      }
      Context parent = Context.root().with(root);
      long[] steps = x.stepStarts;
      long settleStart = x.settleStart != 0 ? x.settleStart : endTick;
      step(parent, x, "authenticate", SpanKind.INTERNAL, steps[0], after(steps, 0, endTick));
      step(parent, x, "admit", SpanKind.INTERNAL, steps[1], after(steps, 1, endTick));
      if (x.upstreamCalled) {
        Span upstream = open(parent, x, "upstream", SpanKind.CLIENT, x.upstreamStart);
        upstream.setAttribute(OPERATION, x.api.operation());
        upstream.setAttribute(
            PROVIDER,
            x.route.config().provider().isEmpty() ? "_OTHER" : x.route.config().provider());
        upstream.setAttribute(
            MODEL, x.route.config().model().isEmpty() ? x.alias() : x.route.config().model());
        if (x.usage != null) {
          upstream.setAttribute(INPUT_TOKENS, x.usage.inputTokens());
          upstream.setAttribute(OUTPUT_TOKENS, x.usage.outputTokens());
        }
        upstream.end(epochNanos(x, settleStart), TimeUnit.NANOSECONDS);
      }
      if (x.settleStart != 0) {
        step(parent, x, "settle", SpanKind.INTERNAL, x.settleStart, x.settleEnd);
      }
    } finally {
      root.end(epochNanos(x, endTick), TimeUnit.NANOSECONDS);
    }
  }

  /** When step {@code index} ended: when the next one started, else at the end of the call. */
  private static long after(long[] steps, int index, long endTick) {
    return index + 1 < steps.length && steps[index + 1] != 0 ? steps[index + 1] : endTick;
  }

  /** A span of one step that ran from tick {@code from} to {@code to}; none if it never ran. */
  private void step(
      Context parent, CallExchange x, String name, SpanKind kind, long from, long to) {
    if (from != 0) {
      open(parent, x, name, kind, from)
          .end(epochNanos(x, Math.max(from, to)), TimeUnit.NANOSECONDS);
    }
  }

  private Span open(Context parent, CallExchange x, String name, SpanKind kind, long from) {
    return tracer
        .spanBuilder(name)
        .setParent(parent)
        .setSpanKind(kind)
        .setStartTimestamp(epochNanos(x, from), TimeUnit.NANOSECONDS)
        .startSpan();
  }

  /** A ticker reading of the call as nanoseconds since the epoch. */
  private static long epochNanos(CallExchange x, long tick) {
    return x.startEpochNanos + (tick - x.startTick);
  }

  /** The epoch nanoseconds of now, for a call's start. */
  static long nowEpochNanos() {
    Instant now = Instant.now();
    return TimeUnit.SECONDS.toNanos(now.getEpochSecond()) + now.getNano();
  }

  /** Whether calls are traced (an endpoint is configured). */
  public boolean enabled() {
    return tracer != null;
  }

  /** Exports what is left, waiting at most {@link #EXPORT_TIMEOUT}. */
  @Override
  public void close() {
    if (provider == null) {
      return;
    }
    var done = provider.shutdown().join(EXPORT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    if (!done.isSuccess()) {
      LOG.warn("the last traces were not all exported within {}", EXPORT_TIMEOUT);
    }
  }
}

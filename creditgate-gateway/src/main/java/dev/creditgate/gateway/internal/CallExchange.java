package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.BillingContext;
import dev.creditgate.gateway.internal.Authenticator.Principal;
import dev.creditgate.gateway.internal.UpstreamRouter.Route;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.MeteredCall;
import io.javalin.http.Context;
import java.util.List;

/**
 * One call of an LLM API as it passes through the {@link CallStep}s: each step fills in what it
 * learned (the caller, the request, the route, the metered call, the upstream's answer) for the
 * steps after it. Used by one request's thread at a time.
 */
final class CallExchange {

  final Context ctx;

  /** The API called. */
  final LlmApi api;

  String requestId;
  Principal principal;

  /**
   * The request body, validated; the upstream gets it with its model and stream options changed.
   */
  ObjectNode request;

  /** The upstreams to try, in order ({@link UpstreamRouter#attempts}). */
  List<Route> attempts;

  /** The upstream being tried, or that answered. */
  Route route;

  /** Whether the output cap in the request is the route's, written in by the admission. */
  boolean defaultCapWritten;

  /** Whether the current attempt's outcome went to its upstream's circuit breaker. */
  boolean attemptRecorded;

  BillingContext billing;

  /** The size of the request body as received. */
  int requestBytes;

  /** Whether the client asked for a stream. */
  boolean stream;

  /**
   * Whether a streaming client asked for the usage chunk itself (the gateway always asks the
   * upstream).
   */
  boolean clientWantsUsage;

  MeteredCall call;

  /**
   * The most the call can use, as admitted (its output cap lowered when the meter clamped it): what
   * a usage report is checked against, and what a call whose usage cannot be known is charged.
   */
  Estimate estimate;

  /** The upstream's answer, open while the steps after the upstream call run. */
  UpstreamClient.Exchange upstream;

  /** The ticker reading when the upstream was called. */
  long upstreamStart;

  /** Whether the upstream was called (its answer may still have failed). */
  boolean upstreamCalled;

  /** The usage the call was charged for, once settled; null while not charged. */
  dev.creditgate.pricing.Usage usage;

  /** The credits the call was charged, once settled; -1 while not charged. */
  long chargedCredits = -1;

  /** The ticker reading, and the time since the epoch in nanoseconds, when the call began. */
  long startTick;

  long startEpochNanos;

  /** The ticker reading when each step of the chain began; 0 for a step not reached. */
  final long[] stepStarts = new long[4];

  /** The ticker readings around the call's charge; 0 when it was not charged. */
  long settleStart;

  long settleEnd;

  /** The call's root span when it is traced and sampled, else null. */
  io.opentelemetry.api.trace.Span span;

  /** The trace id of a sampled call, else null. */
  String traceId;

  /** The status the client got, for the request metrics. */
  int status = 500;

  CallExchange(Context ctx, LlmApi api) {
    this.ctx = ctx;
    this.api = api;
  }

  /**
   * How log lines name the call: its request id, and its trace id when it is traced ({@code req_…
   * trace_id=…}).
   */
  String logRef() {
    return traceId == null ? requestId : requestId + " trace_id=" + traceId;
  }

  /** The model alias asked for, once known; "unknown" before. */
  String alias() {
    return route == null ? "unknown" : route.config().alias();
  }
}

package dev.creditgate.gateway.internal;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.GuardListener;
import dev.creditgate.ledger.ChargeResult;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The gateway's meters. Alias tags only ever take configured alias names (unknown names are
 * counted as {@code unknown}) so a caller cannot grow the number of time series.
 */
public final class GatewayMetrics implements GuardListener {

  private final MeterRegistry registry;

  public GatewayMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  public MeterRegistry registry() {
    return registry;
  }

  public void request(String route, String alias, int status) {
    Counter.builder("creditgate.requests")
        .description("HTTP requests by route, model alias and status")
        .tag("route", route).tag("alias", alias).tag("status", Integer.toString(status))
        .register(registry).increment();
  }

  @Override
  public void onDecision(BillingContext context, Admission admission, long nanos) {
    Counter.builder("creditgate.guard.decisions")
        .description("Credit guard decisions by reason; fail_open reasons were admitted without an answer")
        .tag("reason", admission.reason().name().toLowerCase(java.util.Locale.ROOT))
        .tag("outcome", admission.isAdmitted() ? "admitted" : "denied")
        .tag("degraded", Boolean.toString(admission.reason().degraded()))
        .register(registry).increment();
    Timer.builder("creditgate.guard.decision.latency")
        .description("Time the credit guard took to decide")
        .publishPercentileHistogram()
        .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(50))
        .register(registry).record(nanos, TimeUnit.NANOSECONDS);
  }

  public void upstreamLatency(String alias, String phase, long nanos) {
    Timer.builder("creditgate.upstream.latency")
        .description("Upstream time to response headers (first_byte) and to the end of the body (total)")
        .tag("alias", alias).tag("phase", phase)
        .register(registry).record(nanos, TimeUnit.NANOSECONDS);
  }

  public void charge(String alias, ChargeResult result, boolean estimated) {
    boolean unpriced = result.quote() != null && result.quote().unpriced();
    Counter.builder("creditgate.charges")
        .description("Charges by result; unpriced ones matched no price rule, estimated ones had no reported usage")
        .tag("alias", alias)
        .tag("status", result.status().name().toLowerCase(java.util.Locale.ROOT))
        .tag("unpriced", Boolean.toString(unpriced))
        .tag("estimated", Boolean.toString(estimated))
        .register(registry).increment();
    if (result.status() == ChargeResult.Status.APPLIED || result.status() == ChargeResult.Status.SPOOLED) {
      long credits = result.quote() == null ? 0 : result.quote().credits();
      Counter.builder("creditgate.credits.charged")
          .description("Credits charged")
          .tag("alias", alias)
          .register(registry).increment(credits);
    }
  }

  public void chargeFailed(String alias) {
    Counter.builder("creditgate.charges.failed")
        .description("Charges the ledger rejected outright (not spooled)")
        .tag("alias", alias)
        .register(registry).increment();
  }

  public void clientDisconnected(String alias) {
    Counter.builder("creditgate.stream.client.disconnects")
        .description("Streams whose client left before the end; the upstream was read to its end and charged")
        .tag("alias", alias)
        .register(registry).increment();
  }

  /** Registers the spool size gauge; {@code size} returns -1 when unknown. */
  public void spoolSize(Supplier<Number> size) {
    Gauge.builder("creditgate.ledger.spool.size", size).description("Charges waiting in the ledger's spool")
        .register(registry);
  }
}

package dev.creditgate.gateway.internal;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.GuardListener;
import dev.creditgate.ledger.MeteringLedger;
import dev.creditgate.meter.MeterListener;
import dev.creditgate.meter.Settlement;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;

/**
 * The gateway's meters (strict credit's holds and leases in {@link HoldMetrics}). Alias tags only
 * ever take configured alias names (unknown names are counted as {@code unknown}) so a caller
 * cannot grow the number of time series. The LLM calls' counts by minute for the admin overview
 * ({@link CallMinutes}) are fed from here too, by the same events.
 */
public final class GatewayMetrics implements GuardListener, MeterListener {

  private final MeterRegistry registry;

  private final MeterCache meters;

  private final HoldMetrics holds;

  private final Timer decisionLatency;

  private final GenAiMetrics genAi;

  /** The call admissions' counters, by reason ordinal, registered at their first call. */
  private final AtomicReferenceArray<Counter> admissions =
      new AtomicReferenceArray<>(Admission.Reason.values().length);

  private final CallMinutes minutes;

  public GatewayMetrics(MeterRegistry registry) {
    this(registry, Clock.systemUTC());
  }

  /**
   * @param clock the wall clock of the calls' counts by minute
   */
  public GatewayMetrics(MeterRegistry registry, InstantSource clock) {
    this.registry = registry;
    this.meters = new MeterCache(registry);
    this.holds = new HoldMetrics(meters);
    this.genAi = new GenAiMetrics(registry);
    this.minutes = new CallMinutes(clock);
    this.decisionLatency =
        Timer.builder("creditgate.guard.decision.latency")
            .description("Time the credit guard took to decide")
            .publishPercentileHistogram()
            .serviceLevelObjectives(
                Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(50))
            .register(registry);
  }

  /** The LLM calls' counts by minute over the last hour. */
  CallMinutes minutes() {
    return minutes;
  }

  /**
   * Moves the calls' counts by minute on to the clock's minute; to be called every {@link
   * dev.creditgate.internal.MinuteCounters#ROLL_INTERVAL}, so that counting reads no clock.
   */
  public void rollMinutes() {
    minutes.roll();
  }

  /** How the meters name an admission reason: {@code denied_insufficient_credit}, ... */
  static String reasonTag(Admission.Reason reason) {
    return reason.name().toLowerCase(Locale.ROOT);
  }

  private <M extends Meter> M meter(Function<MeterRegistry, M> register, Object... key) {
    return meters.get(register, key);
  }

  public void request(String route, String alias, int status) {
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.requests")
                    .description("HTTP requests by route, model alias and status")
                    .tag("route", route)
                    .tag("alias", alias)
                    .tag("status", Integer.toString(status))
                    .register(r),
            "requests",
            route,
            alias,
            status)
        .increment();
  }

  static final String ANSWERED = "answered";
  static final String SKIPPED = "skipped_cooling_down";

  /**
   * One attempt on an upstream of an alias: {@code answered} (the headers came, and not an error to
   * move on from), {@code status_429}, {@code status_5xx}, {@code connect_error}, {@code timeout},
   * {@code io_error}, or {@code skipped_cooling_down} (its circuit breaker was open).
   *
   * @param nanos the time to the answer's headers or the failure; 0 for a skipped upstream
   */
  void upstreamAttempt(dev.creditgate.gateway.ModelRoute upstream, String outcome, long nanos) {
    this.<Timer>meter(
            r ->
                Timer.builder("creditgate.upstream.attempts")
                    .description(
                        "Attempts on each upstream of a model alias, by outcome, and their time to"
                            + " the answer's headers or the failure")
                    .tag("alias", upstream.alias())
                    .tag("upstream", upstream.name())
                    .tag("outcome", outcome)
                    .register(r),
            "upstream_attempts",
            upstream.alias(),
            upstream.name(),
            outcome)
        .record(nanos, TimeUnit.NANOSECONDS);
    if (!ANSWERED.equals(outcome) && !SKIPPED.equals(outcome)) {
      minutes.upstreamError();
    }
  }

  /** A call that moved on to {@code to}, another upstream of its alias, after a failure. */
  void upstreamFallback(dev.creditgate.gateway.ModelRoute to) {
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.upstream.fallbacks")
                    .description(
                        "Calls moved on to another upstream of their alias after a failure")
                    .tag("alias", to.alias())
                    .tag("upstream", to.name())
                    .register(r),
            "upstream_fallbacks",
            to.alias(),
            to.name())
        .increment();
  }

  /**
   * One call that reached its upstream, for the GenAI conventions' meters ({@link GenAiMetrics}).
   *
   * @param usage what it was charged for; null when not charged
   */
  void upstreamCall(
      String operation,
      dev.creditgate.gateway.ModelRoute route,
      dev.creditgate.pricing.Usage usage,
      int status,
      long nanos) {
    genAi.record(operation, route, usage, status, nanos);
  }

  /** An LLM API call was received, whatever becomes of it: counted when it starts. */
  void callReceived() {
    minutes.received();
  }

  /**
   * A call's admission by the credit meter, once per call: the guard's decision as the meter
   * finally took it (a strict meter denies calls the guard admitted, for insufficient credit, an
   * unknown account or no price).
   */
  void callAdmission(Admission admission) {
    Admission.Reason reason = admission.reason();
    Counter counter = admissions.get(reason.ordinal());
    if (counter == null) {
      counter =
          Counter.builder("creditgate.calls.admissions")
              .description(
                  "Calls admitted or denied by the credit meter, by reason (once per call; the"
                      + " guard's decisions are counted apart)")
              .tag("reason", reasonTag(reason))
              .tag("outcome", reason.admitted() ? "admitted" : "denied")
              .register(registry);
      admissions.set(reason.ordinal(), counter);
    }
    counter.increment();
    minutes.admission(reason);
  }

  @Override
  public void onDecision(BillingContext context, Admission admission, long nanos) {
    Admission.Reason reason = admission.reason();
    boolean admitted = admission.isAdmitted();
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.guard.decisions")
                    .description(
                        "Credit guard decisions by reason; fail_open reasons were admitted without an answer")
                    .tag("reason", reasonTag(reason))
                    .tag("outcome", admitted ? "admitted" : "denied")
                    .tag("degraded", Boolean.toString(reason.degraded()))
                    .register(r),
            "decisions",
            reason,
            admitted)
        .increment();
    decisionLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  public void upstreamLatency(String alias, String phase, long nanos) {
    this.<Timer>meter(
            r ->
                Timer.builder("creditgate.upstream.latency")
                    .description(
                        "Upstream time to response headers (first_byte) and to the end of the body (total)")
                    .tag("alias", alias)
                    .tag("phase", phase)
                    .publishPercentileHistogram()
                    .register(r),
            "upstream",
            alias,
            phase)
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  /** How long a charge took to be committed (or spooled), as the request waited for it. */
  public void chargeLatency(String alias, long nanos) {
    this.<Timer>meter(
            r ->
                Timer.builder("creditgate.ledger.charge.latency")
                    .description("Time a charge took to commit or spool, waited for by the request")
                    .tag("alias", alias)
                    .register(r),
            "chargeLatency",
            alias)
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  /**
   * How long a request waited for the write-behind ledger: {@code intent_sync} before its first
   * byte to the client (its intent's fsync).
   */
  public void ledgerWait(String what, long nanos) {
    this.<Timer>meter(
            r ->
                Timer.builder("creditgate.ledger.wait")
                    .description(
                        "Time a request waited for the write-behind ledger, by what it waited for")
                    .tag("what", what)
                    .register(r),
            "ledgerWait",
            what)
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void onRecordWait(long nanos) {
    ledgerWait("intent_sync", nanos);
  }

  @Override
  public void onSettled(BillingContext context, Settlement settled, long nanos) {
    String alias = context.modelAlias();
    if (settled.status() == Settlement.Status.FAILED) {
      chargeFailed(alias);
      return;
    }
    chargeLatency(alias, nanos);
    boolean unpriced = settled.unpriced();
    boolean estimated = settled.estimated();
    Settlement.Status status = settled.status();
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.charges")
                    .description(
                        "Charges by result; unpriced ones matched no price rule, estimated ones had no reported usage")
                    .tag("alias", alias)
                    .tag("status", status.name().toLowerCase(Locale.ROOT))
                    .tag("unpriced", Boolean.toString(unpriced))
                    .tag("estimated", Boolean.toString(estimated))
                    .register(r),
            "charges",
            alias,
            status,
            unpriced,
            estimated)
        .increment();
    if (status != Settlement.Status.REPLAYED) {
      minutes.charged(settled.credits());
      this.<Counter>meter(
              r ->
                  Counter.builder("creditgate.credits.charged")
                      .description("Credits charged")
                      .tag("alias", alias)
                      .register(r),
              "credits",
              alias)
          .increment(settled.credits());
    }
  }

  private void chargeFailed(String alias) {
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.charges.failed")
                    .description("Charges the ledger rejected outright (not spooled)")
                    .tag("alias", alias)
                    .register(r),
            "chargesFailed",
            alias)
        .increment();
  }

  @Override
  public void onHoldPlaced(BillingContext context, long credits) {
    holds.placed();
  }

  @Override
  public void onHoldEnded(BillingContext context, long credits, HoldEnd end) {
    holds.ended(end);
  }

  @Override
  public void onLease(LeaseEvent event) {
    holds.lease(event);
  }

  @Override
  public void onShortfall(BillingContext context, boolean clamped) {
    holds.shortfall(clamped);
  }

  @Override
  public void onOverrun(BillingContext context, long credits) {
    holds.overrun(credits);
  }

  /** Registers the gauges of a meter's holds. */
  public void meter(dev.creditgate.ledger.LedgerCreditMeter meter) {
    holds.gauges(meter);
  }

  /**
   * Registers the gauges of the calls in flight counted against the concurrency limits, per key and
   * per account (the same calls counted twice; both return to 0 when no call is in flight).
   */
  void callSlots(CallSlots slots) {
    for (String scope : List.of("key", "account")) {
      Gauge.builder("creditgate.calls.in.flight", slots, s -> s.held(scope))
          .description(
              "Calls in flight holding a slot under the per-key and per-account concurrency limits")
          .tag("scope", scope)
          .register(registry);
    }
  }

  /** A call refused because its key ({@code key}) or account ({@code account}) was at its limit. */
  void callRefusedForConcurrency(String scope) {
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.calls.refused.concurrency")
                    .description(
                        "Calls refused with 429 because their key or account had as many calls in"
                            + " flight as it may")
                    .tag("scope", scope)
                    .register(r),
            "refusedConcurrency",
            scope)
        .increment();
    minutes.refusedForConcurrency(scope);
  }

  /**
   * A failed authentication: {@code invalid_key} (401) or {@code throttled} (429, its address had
   * used its failures up).
   */
  void authFailure(String outcome) {
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.auth.failures")
                    .description(
                        "Requests refused for their API key: invalid_key (401), or throttled (429,"
                            + " their client address had too many failures lately)")
                    .tag("outcome", outcome)
                    .register(r),
            "authFailures",
            outcome)
        .increment();
  }

  /** Registers the counter of the key store's reads of a key by its hash. */
  public void keys(dev.creditgate.gateway.ApiKeyStore keys) {
    FunctionCounter.builder("creditgate.keys.reads", keys, k -> k.keyReads())
        .description(
            "Reads of the key table for a key by its hash (keys remembered as valid or as unknown"
                + " are answered from memory)")
        .register(registry);
  }

  public void streamCutOff(String alias) {
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.stream.cutoffs")
                    .description(
                        "Streams the gateway ended at their hold because the upstream went past"
                            + " the output cap")
                    .tag("alias", alias)
                    .register(r),
            "cutoffs",
            alias)
        .increment();
  }

  /**
   * A call charged otherwise than at the usage its upstream reported: {@code reason} is {@code
   * malformed}, {@code too_low}, {@code too_high} (the usage could not be believed) or {@code
   * unanswered} (the answer was cut or never read).
   */
  public void usageFallback(String alias, String reason) {
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.usage.fallbacks")
                    .description(
                        "Calls charged from the gateway's estimate or their hold because the"
                            + " upstream's usage was unreadable, implausible or never came")
                    .tag("alias", alias)
                    .tag("reason", reason)
                    .register(r),
            "usageFallbacks",
            alias,
            reason)
        .increment();
  }

  public void clientDisconnected(String alias) {
    this.<Counter>meter(
            r ->
                Counter.builder("creditgate.stream.client.disconnects")
                    .description(
                        "Streams whose client left before the end; the upstream was read to its end and charged")
                    .tag("alias", alias)
                    .register(r),
            "disconnects",
            alias)
        .increment();
  }

  /** Registers the ledger's counters: its spool, its group commit and its write-behind queue. */
  public void ledger(MeteringLedger ledger) {
    Gauge.builder("creditgate.ledger.spool.size", ledger, l -> l.stats().spoolPending())
        .description("Charges waiting in the ledger's spool")
        .register(registry);
    FunctionCounter.builder(
            "creditgate.ledger.group.commits", ledger, l -> l.stats().groupCommits())
        .description("Transactions written by the ledger's group commit")
        .register(registry);
    FunctionCounter.builder(
            "creditgate.ledger.group.commit.charges", ledger, l -> l.stats().groupCommitCharges())
        .description(
            "Charges carried by those transactions (divided by the commits: the mean batch)")
        .register(registry);
    FunctionCounter.builder(
            "creditgate.ledger.group.commit.seconds",
            ledger,
            l -> l.stats().groupCommitNanos() / 1e9)
        .description("Time spent writing and committing those transactions")
        .register(registry);
    Gauge.builder("creditgate.ledger.charges.queued", ledger, l -> l.stats().queued())
        .description(
            "Charges accepted and journaled, not yet written to the database (write-behind)")
        .register(registry);
  }
}

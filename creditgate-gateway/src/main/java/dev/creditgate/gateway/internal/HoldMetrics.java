package dev.creditgate.gateway.internal;

import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.meter.MeterListener.HoldEnd;
import dev.creditgate.meter.MeterListener.LeaseEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import java.util.Locale;

/**
 * The meters of strict credit: holds opened and ended, shortfalls, overruns, leases, and the gauges
 * of the holds open in this process. Fed by {@link GatewayMetrics}, the meter's listener.
 */
final class HoldMetrics {

  private final MeterCache meters;

  HoldMetrics(MeterCache meters) {
    this.meters = meters;
  }

  void placed() {
    event("opened");
  }

  void ended(HoldEnd end) {
    event(end.name().toLowerCase(Locale.ROOT));
  }

  private void event(String event) {
    meters
        .<Counter>get(
            r ->
                Counter.builder("creditgate.holds")
                    .description(
                        "Strict-credit holds by event: opened, settled (charged), released (ended"
                            + " without a charge), expired (deadline passed first)")
                    .tag("event", event)
                    .register(r),
            "holds",
            event)
        .increment();
  }

  void lease(LeaseEvent event) {
    String name = event.name().toLowerCase(Locale.ROOT).replace('_', '-');
    meters
        .<Counter>get(
            r ->
                Counter.builder("creditgate.leases")
                    .description(
                        "Lease operations on accounts' credit: grown, given-back, renewed (all of"
                            + " this process's leases at once), failed (the ledger could not be"
                            + " reached)")
                    .tag("event", name)
                    .register(r),
            "leases",
            name)
        .increment();
  }

  void shortfall(boolean clamped) {
    String outcome = clamped ? "clamped" : "rejected";
    meters
        .<Counter>get(
            r ->
                Counter.builder("creditgate.holds.shortfalls")
                    .description(
                        "Calls whose worst case did not fit the account's credit: clamped to a"
                            + " lower output cap, or rejected")
                    .tag("outcome", outcome)
                    .register(r),
            "shortfalls",
            outcome)
        .increment();
  }

  void overrun(long credits) {
    meters
        .<Counter>get(
            r ->
                Counter.builder("creditgate.holds.overrun.credits")
                    .description("Credits charged beyond calls' holds (input beyond its estimate)")
                    .register(r),
            "overrun")
        .increment(credits);
  }

  /** Registers the gauges of a meter's holds. */
  void gauges(LedgerCreditMeter meter) {
    Gauge.builder("creditgate.holds.held.credits", meter, m -> m.heldCredits())
        .description("Credits held by calls in flight in this process")
        .register(meters.registry());
    Gauge.builder("creditgate.holds.open", meter, m -> m.openHolds())
        .description("Holds open in this process")
        .register(meters.registry());
  }
}

package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.BillingContext;
import dev.creditgate.meter.MeterListener.HoldEnd;
import dev.creditgate.meter.MeterListener.LeaseEvent;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** The strict-credit meters, as the credit meter's listener events reach {@link GatewayMetrics}. */
class HoldMetricsTest {

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final GatewayMetrics metrics = new GatewayMetrics(registry);
  private final BillingContext call = BillingContext.forAccount("acme");

  private double count(String name, String tag, String value) {
    return registry.get(name).tag(tag, value).counter().count();
  }

  @Test
  void holdsAreCountedByEventWithTheEndLowerCased() {
    metrics.onHoldPlaced(call, 100);
    metrics.onHoldPlaced(call, 50);
    metrics.onHoldEnded(call, 100, HoldEnd.SETTLED);
    metrics.onHoldEnded(call, 50, HoldEnd.EXPIRED);
    metrics.onHoldEnded(call, 50, HoldEnd.EXPIRED);

    assertThat(count("creditgate.holds", "event", "opened")).isEqualTo(2);
    assertThat(count("creditgate.holds", "event", "settled")).isEqualTo(1);
    assertThat(count("creditgate.holds", "event", "expired")).isEqualTo(2);
    // A meter appears with its first event, not before.
    assertThat(registry.find("creditgate.holds").tag("event", "released").counter()).isNull();
  }

  @Test
  void shortfallsOverrunsAndLeasesHaveTheirOwnMeters() {
    metrics.onShortfall(call, true);
    metrics.onShortfall(call, false);
    metrics.onShortfall(call, false);
    metrics.onOverrun(call, 5);
    metrics.onOverrun(call, 7);
    metrics.onLease(LeaseEvent.GIVEN_BACK);
    metrics.onLease(LeaseEvent.GIVEN_BACK);
    metrics.onLease(LeaseEvent.FAILED);

    assertThat(count("creditgate.holds.shortfalls", "outcome", "clamped")).isEqualTo(1);
    assertThat(count("creditgate.holds.shortfalls", "outcome", "rejected")).isEqualTo(2);
    assertThat(registry.get("creditgate.holds.overrun.credits").counter().count()).isEqualTo(12);
    assertThat(count("creditgate.leases", "event", "given-back")).isEqualTo(2);
    assertThat(count("creditgate.leases", "event", "failed")).isEqualTo(1);
    // One meter per name and tags, however many events it counts.
    assertThat(registry.find("creditgate.leases").counters()).hasSize(2);
    assertThat(registry.find("creditgate.holds").counters()).isEmpty();
  }
}

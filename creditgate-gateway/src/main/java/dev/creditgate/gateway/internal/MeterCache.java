package dev.creditgate.gateway.internal;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Meters already registered, by their name and tags: registering looks up and sorts tags each time,
 * so a meter recorded on every call is registered once and then found here.
 */
final class MeterCache {

  private final MeterRegistry registry;
  private final ConcurrentHashMap<List<Object>, Meter> meters = new ConcurrentHashMap<>();

  MeterCache(MeterRegistry registry) {
    this.registry = registry;
  }

  MeterRegistry registry() {
    return registry;
  }

  /**
   * The meter under {@code key} (a name and the tag values), registered by {@code register} the
   * first time; {@code key} must tell apart every meter {@code register} may return.
   */
  @SuppressWarnings("unchecked")
  <M extends Meter> M get(Function<MeterRegistry, M> register, Object... key) {
    return (M) meters.computeIfAbsent(List.of(key), k -> register.apply(registry));
  }
}

package dev.creditgate.meter;

import dev.creditgate.pricing.Usage;
import java.util.Objects;

/**
 * What a call is expected to cost before it runs: the provider and model it is priced on, and an
 * upper estimate of its usage (input counted from the request, output from its cap). A meter
 * records it with the call, and charges it should the call's real usage be lost.
 *
 * @param provider the provider the call is priced on, as price rules name it
 * @param model the provider's model
 * @param usage the estimated usage
 */
public record Estimate(String provider, String model, Usage usage) {

  public Estimate {
    provider = Objects.requireNonNullElse(provider, "");
    model = Objects.requireNonNullElse(model, "");
    Objects.requireNonNull(usage, "usage");
  }
}

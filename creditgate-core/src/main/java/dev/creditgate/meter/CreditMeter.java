package dev.creditgate.meter;

import dev.creditgate.BillingContext;

/**
 * The credit side of LLM calls, one {@link MeteredCall} per call: a gateway opens the call before
 * it calls the upstream, relays the answer when the call is admitted, and settles the usage the
 * upstream reported. Everything between (idempotency look-ups, the account's charges still being
 * written, durability of the call's record, cache coherence) is the meter's business.
 *
 * <p>Implementations are thread-safe; create one per process and share it.
 */
public interface CreditMeter {

  /**
   * Opens the metering of one call and decides whether it may be served. The returned call must be
   * settled or abandoned, and closed in every case (try-with-resources).
   *
   * @throws IdempotencyKeyReusedException when the call's event id is being served or was charged
   *     before
   * @throws IllegalArgumentException when {@code estimate} is not a valid charge (naming the bad
   *     value)
   */
  MeteredCall open(BillingContext context, Estimate estimate);
}

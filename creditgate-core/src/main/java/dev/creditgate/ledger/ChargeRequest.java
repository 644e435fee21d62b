package dev.creditgate.ledger;

import dev.creditgate.BillingContext;
import dev.creditgate.pricing.Usage;
import java.util.Objects;

/**
 * A charge for one LLM call. The ledger prices {@code usage} with its price rules for
 * {@code scene}, {@code provider} and {@code model}; the event id makes it idempotent.
 *
 * @param estimated whether the usage was estimated (the upstream reported none)
 * @param metadata  JSON object text, "{}" when none
 */
public record ChargeRequest(
    String accountId,
    String eventId,
    String requestId,
    String scene,
    String provider,
    String model,
    Usage usage,
    boolean estimated,
    String metadata) {

  public ChargeRequest {
    dev.creditgate.BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    requestId = Objects.requireNonNullElse(requestId, "");
    scene = Objects.requireNonNullElse(scene, "");
    provider = Objects.requireNonNullElse(provider, "");
    model = Objects.requireNonNullElse(model, "");
    Objects.requireNonNull(usage, "usage");
    metadata = metadata == null || metadata.isBlank() ? "{}" : metadata;
  }

  /** A charge for the call {@code billing} describes, on {@code provider}'s {@code model}. */
  public static ChargeRequest of(BillingContext billing, String provider, String model, Usage usage, boolean estimated) {
    return new ChargeRequest(billing.accountId(), billing.eventId(), billing.requestId(), billing.scene(),
        provider, model, usage, estimated, "{}");
  }
}

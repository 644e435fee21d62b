package dev.creditgate.ledger;

import dev.creditgate.pricing.Usage;
import java.util.Objects;
import java.util.UUID;

/**
 * A charge for one LLM call. The ledger prices {@code usage} with its price rules for {@code
 * scene}, {@code provider} and {@code model}; the event id makes it idempotent.
 *
 * @param estimated whether the usage was estimated (the upstream reported none)
 * @param metadata JSON object text, "{}" when none
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

  /** The prefix of the event ids {@link #underOwnId()} draws. */
  public static final String OWN_ID_PREFIX = "dup:";

  /**
   * The same charge under an event id of its own, the original id kept as {@code idempotency_key}
   * in its metadata. The one rule for a call served under an id that another call was charged with
   * (two gateways serving the same Idempotency-Key at the same moment): it was served, so it is
   * charged, not given away.
   */
  public ChargeRequest underOwnId() {
    String meta = metadata.strip();
    String field = "\"idempotency_key\":" + JsonText.quote(eventId);
    String inner = meta.length() >= 2 ? meta.substring(1, meta.length() - 1).strip() : "";
    String merged = "{" + field + (inner.isEmpty() ? "" : "," + inner) + "}";
    return new ChargeRequest(
        accountId,
        OWN_ID_PREFIX + UUID.randomUUID(),
        requestId,
        scene,
        provider,
        model,
        usage,
        estimated,
        merged);
  }
}

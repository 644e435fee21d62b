package dev.creditgate.ledger;

import dev.creditgate.pricing.Usage;
import java.nio.charset.StandardCharsets;
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

  /** The prefix of the event ids {@link #underOwnId()} gives. */
  public static final String OWN_ID_PREFIX = "dup:";

  /**
   * The same charge under an event id of its own, the original id kept as {@code idempotency_key}
   * in its metadata. The one rule for a call served under an id that another call was charged with
   * (two gateways serving the same Idempotency-Key at the same moment): it was served, so it is
   * charged, not given away.
   *
   * <p>The own id is derived from the whole charge (a name-based UUID of its fields), so the same
   * charge meeting the same conflict again (replayed after a crash, from the journal or the spool)
   * gets the same id, which the ledger then recognises as a replay rather than a second charge.
   */
  public ChargeRequest underOwnId() {
    String meta = metadata.strip();
    String field = "\"idempotency_key\":" + JsonText.quote(eventId);
    String inner = meta.length() >= 2 ? meta.substring(1, meta.length() - 1).strip() : "";
    String merged = "{" + field + (inner.isEmpty() ? "" : "," + inner) + "}";
    return new ChargeRequest(
        accountId,
        OWN_ID_PREFIX + ownId(),
        requestId,
        scene,
        provider,
        model,
        usage,
        estimated,
        merged);
  }

  private UUID ownId() {
    StringBuilder key = new StringBuilder(128);
    for (String field : new String[] {accountId, eventId, requestId, scene, provider, model}) {
      key.append(field.length()).append(':').append(field);
    }
    key.append(usage.inputTokens())
        .append(',')
        .append(usage.outputTokens())
        .append(',')
        .append(usage.cachedTokens())
        .append(',')
        .append(usage.reasoningTokens())
        .append(',')
        .append(estimated)
        .append(',')
        .append(metadata);
    return UUID.nameUUIDFromBytes(key.toString().getBytes(StandardCharsets.UTF_8));
  }
}

package dev.creditgate.ledger;

import dev.creditgate.pricing.Usage;
import java.time.Instant;

/**
 * One immutable ledger line.
 *
 * @param eventId idempotency key, unique per account
 * @param amount signed credits: positive for grants and refunds, negative for charges
 * @param balanceAfter the account's balance once this entry applied
 * @param usage tokens of a charge, {@link Usage#ZERO} otherwise
 * @param priceRuleId the rule that priced a charge, 0 when none
 * @param unpriced a charge no price rule matched (recorded at the ledger's fallback price, 0
 *     without one)
 * @param estimated a charge whose usage was estimated because the upstream reported none
 * @param actor who made the change (operator, key id, "gateway")
 * @param reason free text: why (adjustments, blocks)
 * @param metadata JSON object text, "{}" when none
 */
public record LedgerEntry(
    long id,
    String accountId,
    String eventId,
    EntryKind kind,
    long amount,
    long balanceAfter,
    String requestId,
    String scene,
    String model,
    Usage usage,
    long costMicros,
    long priceRuleId,
    boolean unpriced,
    boolean estimated,
    String actor,
    String reason,
    String metadata,
    Instant createdAt) {}

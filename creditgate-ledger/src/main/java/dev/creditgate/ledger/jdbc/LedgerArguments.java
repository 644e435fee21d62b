package dev.creditgate.ledger.jdbc;

import dev.creditgate.BillingContext;
import dev.creditgate.Checks;
import dev.creditgate.InvalidArgumentException;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.LedgerChecks;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Quote;
import java.time.Duration;

/** The argument checks of the JDBC ledger, in one place; each message names the bad value. */
final class LedgerArguments {

  /** The longest request id, scene, provider, model or actor accepted. */
  static final int MAX_FIELD_LENGTH = 200;

  static final int MAX_REASON_LENGTH = 2000;
  static final int MAX_METADATA_LENGTH = 8192;
  static final int MAX_PAGE_SIZE = 1000;

  private LedgerArguments() {}

  /** The checks every credit-moving operation shares. */
  static void checkOperation(String accountId, String eventId, String actor, String reason) {
    BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    requireLength("actor", actor, MAX_FIELD_LENGTH);
    requireLength("reason", reason, MAX_REASON_LENGTH);
  }

  /** The actor of an operator's change that records no entry. */
  static void checkActor(String actor) {
    requireLength("actor", actor, MAX_FIELD_LENGTH);
  }

  /** The checks of a charge request the record itself does not make. */
  static void checkCharge(ChargeRequest r) {
    requireLength("requestId", r.requestId(), MAX_FIELD_LENGTH);
    requireLength("scene", r.scene(), MAX_FIELD_LENGTH);
    requireLength("provider", r.provider(), MAX_FIELD_LENGTH);
    requireLength("model", r.model(), MAX_FIELD_LENGTH);
    String metadata = r.metadata().strip();
    if (r.metadata().length() > MAX_METADATA_LENGTH
        || !metadata.startsWith("{")
        || !metadata.endsWith("}")) {
      throw new InvalidArgumentException(
          "metadata",
          "metadata must be a JSON object of at most "
              + MAX_METADATA_LENGTH
              + " characters, but was '"
              + Checks.abbreviate(r.metadata(), 80)
              + "'");
    }
  }

  /** A priced charge must not exceed the largest amount the ledger records. */
  static void checkChargeAmount(ChargeRequest request, Quote quote) {
    if (quote.credits() > LedgerChecks.MAX_AMOUNT) {
      throw new IllegalArgumentException(
          "charge of "
              + quote.credits()
              + " credits for usage "
              + request.usage()
              + " exceeds the largest amount "
              + LedgerChecks.MAX_AMOUNT);
    }
  }

  static void checkAdjustmentReason(String reason) {
    if (reason == null || reason.isBlank()) {
      throw new InvalidArgumentException(
          "reason",
          "reason must be given for an adjustment, but was "
              + (reason == null ? "null" : "'" + reason + "'"));
    }
  }

  static void checkRuleFields(PriceRule rule) {
    requireLength("rule.scene", rule.scene(), MAX_FIELD_LENGTH);
    requireLength("rule.provider", rule.provider(), MAX_FIELD_LENGTH);
    requireLength("rule.model", rule.model(), MAX_FIELD_LENGTH);
  }

  static void requireStoredRuleId(long id) {
    if (id <= 0) {
      throw notAStoredRule(id);
    }
  }

  static IllegalArgumentException notAStoredRule(long id) {
    return new InvalidArgumentException(
        "rule.id", "rule.id must be the id of a stored rule, but was " + id);
  }

  static void requireLimit(int limit) {
    if (limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new InvalidArgumentException(
          "limit", "limit must be between 1 and " + MAX_PAGE_SIZE + ", but was " + limit);
    }
  }

  /** The id below which the next page of entries starts. */
  static long parseEntryCursor(String cursor) {
    if (cursor == null) {
      return Long.MAX_VALUE;
    }
    try {
      long value = Long.parseLong(cursor);
      if (value > 0) {
        return value;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new InvalidArgumentException(
        "cursor", "cursor must be a cursor returned by entries(), but was '" + cursor + "'");
  }

  static Duration requirePositive(String name, Duration value) {
    return Checks.requirePositive(name, value);
  }

  static int requireBetween(String name, int value, int min, int max) {
    return (int) Checks.requireBetween(name, value, min, max);
  }

  private static void requireLength(String name, String value, int max) {
    if (value != null && value.length() > max) {
      throw new InvalidArgumentException(
          name,
          name
              + " must be at most "
              + max
              + " characters, but was '"
              + Checks.abbreviate(value, 80)
              + "' ("
              + value.length()
              + " characters)");
    }
  }
}

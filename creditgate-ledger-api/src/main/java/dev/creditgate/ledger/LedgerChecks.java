package dev.creditgate.ledger;

import dev.creditgate.Checks;
import dev.creditgate.InvalidArgumentException;

/**
 * Argument checks shared by the ledger's requests. Each throws an {@link InvalidArgumentException}
 * naming the parameter, with a message that names the bad value.
 */
public final class LedgerChecks {

  /** The longest event id (idempotency key) accepted. */
  public static final int MAX_EVENT_ID_LENGTH = 200;

  /** The largest single amount accepted, so that totals cannot realistically overflow. */
  public static final long MAX_AMOUNT = 1_000_000_000_000_000L;

  private LedgerChecks() {}

  public static String requireEventId(String eventId) {
    if (eventId == null
        || eventId.isBlank()
        || eventId.length() > MAX_EVENT_ID_LENGTH
        || !eventId.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new InvalidArgumentException(
          "eventId",
          "eventId must be 1-"
              + MAX_EVENT_ID_LENGTH
              + " printable ASCII characters without spaces, but was "
              + (eventId == null ? "null" : "'" + eventId + "'"));
    }
    return eventId;
  }

  /** Checks {@code 0 < amount <= MAX_AMOUNT}. */
  public static long requirePositiveAmount(String name, long amount) {
    return Checks.requireBetween(name, amount, 1, MAX_AMOUNT);
  }

  /** Checks {@code amount != 0} and {@code |amount| <= MAX_AMOUNT}. */
  public static long requireNonZeroAmount(String name, long amount) {
    if (amount == 0 || amount > MAX_AMOUNT || amount < -MAX_AMOUNT) {
      throw new InvalidArgumentException(
          name,
          name
              + " must be non-zero and between -"
              + MAX_AMOUNT
              + " and "
              + MAX_AMOUNT
              + ", but was "
              + amount);
    }
    return amount;
  }
}

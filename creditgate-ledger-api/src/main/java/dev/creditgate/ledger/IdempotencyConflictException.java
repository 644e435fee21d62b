package dev.creditgate.ledger;

import dev.creditgate.CreditgateException;

/** The event id was used before with a different payload. The admin API answers HTTP 409. */
public class IdempotencyConflictException extends CreditgateException {

  private static final long serialVersionUID = 1L;

  public IdempotencyConflictException(String accountId, String eventId, String difference) {
    super(
        "event id '"
            + eventId
            + "' was already used for account '"
            + accountId
            + "' with a different payload ("
            + difference
            + ")");
  }
}

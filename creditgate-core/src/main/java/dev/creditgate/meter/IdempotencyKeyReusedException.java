package dev.creditgate.meter;

import dev.creditgate.CreditgateException;

/**
 * A call's event id (its client's Idempotency-Key) cannot be used: a call with it is being served,
 * or one was charged before. Nothing was called or charged.
 */
public final class IdempotencyKeyReusedException extends CreditgateException {

  private static final long serialVersionUID = 1L;

  private final String eventId;
  private final boolean inProgress;

  public IdempotencyKeyReusedException(String eventId, boolean inProgress) {
    super(
        "event id '"
            + eventId
            + "' cannot be used again: "
            + (inProgress
                ? "a call with it is in progress"
                : "it was used for a completed, charged call"));
    this.eventId = eventId;
    this.inProgress = inProgress;
  }

  public String eventId() {
    return eventId;
  }

  /** True when a call with the id is being served now; false when one was charged before. */
  public boolean inProgress() {
    return inProgress;
  }
}

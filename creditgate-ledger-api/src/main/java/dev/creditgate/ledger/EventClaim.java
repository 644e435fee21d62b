package dev.creditgate.ledger;

/** What {@link MeteringLedger#claimEvent} found for an event id. */
public enum EventClaim {
  /** The caller owns the event id now: no other call is served under it until its claim ends. */
  CLAIMED,
  /**
   * The event id was charged: an entry, or a charge the ledger accepted and has not written yet.
   */
  CHARGED,
  /** Another call holds a live claim on the event id: it is being served, here or elsewhere. */
  IN_PROGRESS
}

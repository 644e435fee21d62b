package dev.creditgate.ledger;

/**
 * What a ledger entry records. Block and unblock entries move no credit; they are the audit trail.
 */
public enum EntryKind {
  GRANT,
  CHARGE,
  REFUND,
  ADJUSTMENT,
  BLOCK,
  UNBLOCK
}

package dev.creditgate.ledger;

import java.util.List;

/** Checks of the ledger's own consistency, for operators and tests. */
public interface LedgerAudit {

  /** Checks that balance equals the sum of entries, totals agree and the version is consistent. */
  VerifyResult verify(String accountId);

  /** {@link #verify} for every account; returns the inconsistent ones. */
  List<VerifyResult> verifyAll();
}

package dev.creditgate.ledger;

import dev.creditgate.CreditSnapshot;
import java.util.Map;

/**
 * Told the new state of every account a ledger transaction changed, right after it commits, so that
 * the guard's cache follows the ledger (typically the guard's snapshot publisher). Called on the
 * committing thread: implementations bound their own waits and never throw.
 */
@FunctionalInterface
public interface LedgerCommitListener {

  LedgerCommitListener NONE = states -> {};

  /** The committed states, by account id (one transaction may change many accounts). */
  void committed(Map<String, CreditSnapshot> states);
}

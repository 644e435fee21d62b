package dev.creditgate.ledger;

import java.util.Optional;

/**
 * Accounts' own credit settings ({@link CreditPolicy}), kept by the ledger. A meter reads them on
 * every admission, so {@link #policy} answers from memory (refreshed in the background; a change
 * made through another process is seen within the refresh interval).
 */
public interface CreditPolicies {

  /** The account's own settings, empty when it follows the gateway's; without I/O once loaded. */
  Optional<CreditPolicy> policy(String accountId);

  /**
   * Sets the account's own settings, replacing any earlier ones; an empty policy clears them.
   * Returns what is now in force for the account (empty when it follows the gateway's).
   *
   * @throws AccountNotFoundException when the account does not exist
   * @throws LedgerUnavailableException when the ledger's database cannot be reached
   */
  Optional<CreditPolicy> setPolicy(String accountId, CreditPolicy policy, String actor);
}

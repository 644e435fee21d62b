package dev.creditgate;

import java.util.Optional;

/**
 * The credit store, the source of truth the guard falls back to when the cache has no snapshot
 * (SPI). Implemented by the ledger.
 *
 * <p>The guard calls it from its own executor and bounds the wait with its fetch timeout; an
 * implementation should still bound its own I/O (statement timeouts) so a stuck call ends.
 */
@FunctionalInterface
public interface CreditSnapshotProvider {

  /**
   * Returns the account's committed state, or empty when the store does not know the account.
   *
   * @throws RuntimeException when the store cannot answer; the guard logs it and fails open (or
   *     closed, if so configured)
   */
  Optional<CreditSnapshot> fetchSnapshot(String accountId);
}

package dev.creditgate;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * The guard's cache of blocked markers and balance snapshots (SPI). A fleet of gateways may share
 * one cache (Redis); a single process may use {@link InMemoryCreditCache}.
 *
 * <p>Every method returns at once with a future and must not block the caller: the guard waits for
 * each future only as long as its cache time budget allows and treats a late answer as an error.
 * Failures complete the future exceptionally; they are never thrown from the method itself, though
 * the guard tolerates that too.
 *
 * <p>Implementations must keep these promises, which {@code AbstractCreditCacheContractTest} checks
 * for every backend:
 *
 * <ul>
 *   <li>{@link #lookup} reads the marker and the snapshot of one account together, in one network
 *       round trip for a remote backend;
 *   <li>{@link #putSnapshot} is versioned: it replaces a stored snapshot only when the stored one
 *       has a lower version, so a late write of an older read never overwrites a newer state;
 *   <li>entries expire after their own time-to-live.
 * </ul>
 */
public interface CreditCache {

  /** Reads the account's blocked marker and snapshot in one round trip. */
  CompletableFuture<CacheLookup> lookup(String accountId);

  /**
   * Stores {@code snapshot} for {@code ttl} unless the cached snapshot has the same or a higher
   * version; completes with whether it was stored.
   */
  CompletableFuture<Boolean> putSnapshot(String accountId, CreditSnapshot snapshot, Duration ttl);

  /**
   * Sets the blocked marker, recording the snapshot version it was derived from, for {@code ttl}.
   */
  CompletableFuture<Void> setBlocked(String accountId, long version, Duration ttl);

  /** Removes the blocked marker. */
  CompletableFuture<Void> clearBlocked(String accountId);

  /**
   * Stores an account's state: {@code snapshot} as {@link #putSnapshot} does (versioned, for {@code
   * snapshotTtl}), and the blocked marker that goes with it, set at the snapshot's version for
   * {@code blockedTtl} when the snapshot cannot spend, removed when it can. The marker is written
   * even when a newer snapshot is cached (markers carry their version, so an older one never
   * overrides a newer snapshot). Completes with whether the snapshot was stored. A remote backend
   * should do both in one round trip; by default, the two calls, sent together.
   */
  default CompletableFuture<Boolean> putState(
      String accountId, CreditSnapshot snapshot, Duration snapshotTtl, Duration blockedTtl) {
    CompletableFuture<Boolean> put = putSnapshot(accountId, snapshot, snapshotTtl);
    CompletableFuture<Void> marker =
        snapshot.canSpend()
            ? clearBlocked(accountId)
            : setBlocked(accountId, snapshot.version(), blockedTtl);
    return put.thenCombine(marker, (stored, ignored) -> stored);
  }

  /** Removes everything cached for the account: the next guard call reads the credit store. */
  CompletableFuture<Void> invalidate(String accountId);
}

package dev.creditgate.ledger;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.CreditSnapshotProvider;
import dev.creditgate.internal.ThrottledLog;

/**
 * A strict meter's reads of an account from the store, for calls the guard admitted without a
 * snapshot (its cache failed). A meter that leases credit keeps each read for {@link
 * LedgerCreditMeter#FETCHED_SNAPSHOT_TTL}, one read at a time per account: while the cache is slow,
 * a busy account costs the store one read per that period, not one per call. Without a lease the
 * room is measured against the snapshot itself, so every call reads the store's latest.
 */
final class StoreReads {

  /** The most accounts whose snapshots are kept. */
  static final long MAX_ACCOUNTS = 10_000;

  private final CreditSnapshotProvider store;
  private final Cache<String, CreditSnapshot> kept;
  private final Ticker ticker;
  private final ThrottledLog log;

  /**
   * @param store where to read; null: there is none, and every read answers null
   * @param keep whether reads are kept (the meter leases credit)
   */
  StoreReads(CreditSnapshotProvider store, boolean keep, Ticker ticker, ThrottledLog log) {
    this.store = store;
    this.kept =
        keep
            ? Caffeine.newBuilder()
                .expireAfterWrite(LedgerCreditMeter.FETCHED_SNAPSHOT_TTL)
                .maximumSize(MAX_ACCOUNTS)
                .ticker(ticker)
                .build()
            : null;
    this.ticker = ticker;
    this.log = log;
  }

  /** The account's snapshot; null when there is none or the store fails. */
  CreditSnapshot fetch(String accountId) {
    if (store == null) {
      return null;
    }
    try {
      if (kept == null) {
        return store.fetchSnapshot(accountId).orElse(null);
      }
      // Nothing is kept when the account is missing or the read fails.
      return kept.get(accountId, id -> store.fetchSnapshot(id).orElse(null));
    } catch (RuntimeException e) {
      log.warn(
          ticker.read(),
          "cannot read the account's credit, account_id={}: {}",
          accountId,
          e.toString());
      return null;
    }
  }
}

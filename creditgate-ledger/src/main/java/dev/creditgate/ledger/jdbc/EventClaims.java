package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.EventClaim;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code event_claims} table: Idempotency-Keys claimed by the calls being served, shared by
 * every process on the database. A claim is one row per account and event id, inserted (or taken
 * over once expired) by whoever's statement wins; expired rows are deleted every {@link
 * #PURGE_INTERVAL} by the claim that finds the purge due.
 */
final class EventClaims {

  /**
   * How often expired claims are deleted (by a background thread of the claim that finds it due).
   */
  static final Duration PURGE_INTERVAL = Duration.ofMinutes(1);

  private static final Logger LOG = LoggerFactory.getLogger(EventClaims.class);

  /** PostgreSQL: the claim and the look-up of a charge in one statement, one round trip. */
  private static final String CLAIM_POSTGRESQL =
      "WITH claimed AS (INSERT INTO event_claims AS k (account_id, event_id, holder, expires_at)"
          + " VALUES (?, ?, ?, ?) ON CONFLICT (account_id, event_id) DO UPDATE SET"
          + " holder = excluded.holder, expires_at = excluded.expires_at"
          + " WHERE k.expires_at <= ? RETURNING 1)"
          + " SELECT (SELECT count(*) FROM claimed) AS claimed,"
          + " EXISTS (SELECT 1 FROM entries WHERE account_id = ? AND event_id = ?) AS charged";

  private static final String CLAIM_SQLITE =
      "INSERT INTO event_claims (account_id, event_id, holder, expires_at) VALUES (?, ?, ?, ?)"
          + " ON CONFLICT (account_id, event_id) DO UPDATE SET"
          + " holder = excluded.holder, expires_at = excluded.expires_at"
          + " WHERE event_claims.expires_at <= ?";

  private final LedgerDatabase db;
  private final Dialect dialect;
  private final String holder;
  private final AtomicLong lastPurge = new AtomicLong(System.nanoTime());
  private final AtomicBoolean purging = new AtomicBoolean();

  EventClaims(LedgerDatabase db, String holder) {
    this.db = db;
    this.dialect = db.dialect();
    this.holder = holder;
  }

  /**
   * Claims the event id until {@code ttl} from now, unless a live claim holds it; then tells
   * whether it was charged.
   *
   * @throws dev.creditgate.ledger.LedgerUnavailableException when the database is away
   */
  EventClaim claim(String accountId, String eventId, Duration ttl) {
    Instant now = db.now();
    Instant expires = now.plus(ttl);
    EventClaim result =
        dialect == Dialect.POSTGRESQL
            ? db.read(c -> claimPostgres(c, accountId, eventId, now, expires))
            : db.transaction(c -> claimSqlite(c, accountId, eventId, now, expires));
    purgeIfDue();
    return result;
  }

  private EventClaim claimPostgres(
      Connection c, String accountId, String eventId, Instant now, Instant expires)
      throws SQLException {
    try (PreparedStatement s = db.prepare(c, CLAIM_POSTGRESQL)) {
      s.setString(1, accountId);
      s.setString(2, eventId);
      s.setString(3, holder);
      dialect.setInstant(s, 4, expires);
      dialect.setInstant(s, 5, now);
      s.setString(6, accountId);
      s.setString(7, eventId);
      try (ResultSet rows = s.executeQuery()) {
        rows.next();
        return outcome(rows.getLong("claimed") > 0, rows.getBoolean("charged"));
      }
    }
  }

  private EventClaim claimSqlite(
      Connection c, String accountId, String eventId, Instant now, Instant expires)
      throws SQLException {
    boolean claimed;
    try (PreparedStatement s = db.prepare(c, CLAIM_SQLITE)) {
      s.setString(1, accountId);
      s.setString(2, eventId);
      s.setString(3, holder);
      dialect.setInstant(s, 4, expires);
      dialect.setInstant(s, 5, now);
      claimed = s.executeUpdate() > 0;
    }
    try (PreparedStatement s =
        db.prepare(c, "SELECT 1 FROM entries WHERE account_id = ? AND event_id = ?")) {
      s.setString(1, accountId);
      s.setString(2, eventId);
      try (ResultSet rows = s.executeQuery()) {
        return outcome(claimed, rows.next());
      }
    }
  }

  /** A charged id is refused as charged even when the claim was taken (its old claim expired). */
  private static EventClaim outcome(boolean claimed, boolean charged) {
    if (charged) {
      return EventClaim.CHARGED;
    }
    return claimed ? EventClaim.CLAIMED : EventClaim.IN_PROGRESS;
  }

  /**
   * Deletes this process's claim of the event id.
   *
   * @throws dev.creditgate.ledger.LedgerUnavailableException when the database is away
   */
  void release(String accountId, String eventId) {
    write(
        c -> {
          try (PreparedStatement s =
              db.prepare(
                  c,
                  "DELETE FROM event_claims WHERE account_id = ? AND event_id = ? AND holder = ?")) {
            s.setString(1, accountId);
            s.setString(2, eventId);
            s.setString(3, holder);
            return s.executeUpdate();
          }
        });
  }

  /** Deletes the claims expired at {@code now}; returns how many. */
  int purge(Instant now) {
    return write(
        c -> {
          try (PreparedStatement s =
              db.prepare(c, "DELETE FROM event_claims WHERE expires_at <= ?")) {
            dialect.setInstant(s, 1, now);
            return s.executeUpdate();
          }
        });
  }

  /** One statement: on PostgreSQL in auto-commit, on SQLite in a write turn of this process. */
  private int write(LedgerDatabase.SqlWork<Integer> work) {
    return dialect == Dialect.POSTGRESQL ? db.read(work) : db.transaction(work);
  }

  private void purgeIfDue() {
    long last = lastPurge.get();
    if (System.nanoTime() - last < TimeUnit.MILLISECONDS.toNanos(PURGE_INTERVAL.toMillis())
        || !purging.compareAndSet(false, true)) {
      return;
    }
    lastPurge.set(System.nanoTime());
    Thread.ofPlatform()
        .daemon()
        .name("creditgate-ledger-claim-purge")
        .start(
            () -> {
              try {
                int purged = purge(db.now());
                LOG.debug("expired idempotency key claims deleted: {}", purged);
              } catch (RuntimeException e) {
                LOG.warn("expired idempotency key claims not deleted: {}", e.toString());
              } finally {
                purging.set(false);
              }
            });
  }
}

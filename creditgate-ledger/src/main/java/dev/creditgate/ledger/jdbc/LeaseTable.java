package dev.creditgate.ledger.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The SQL of the {@code credit_leases} table, each statement written once. Every method runs on the
 * connection (and transaction) it is given; the caller holds the account's row lock where a method
 * says so.
 */
final class LeaseTable {

  /** One lease row. */
  record Row(String accountId, String holder, long credits, long version, Instant expiresAt) {

    boolean liveAt(Instant now) {
      return expiresAt.isAfter(now);
    }
  }

  private static final String COLUMNS = "account_id, holder, credits, version, expires_at";

  private final LedgerDatabase db;
  private final Dialect dialect;

  LeaseTable(LedgerDatabase db) {
    this.db = db;
    this.dialect = db.dialect();
  }

  /** The account's lease rows, of every holder, locked for the rest of the transaction. */
  List<Row> lockRows(Connection c, String accountId) throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT "
                + COLUMNS
                + " FROM credit_leases WHERE account_id = ? ORDER BY holder"
                + dialect.lockClause())) {
      s.setString(1, accountId);
      return read(s);
    }
  }

  /** The account's rows live at {@code now}, without locking. */
  List<Row> liveRows(Connection c, String accountId, Instant now) throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT "
                + COLUMNS
                + " FROM credit_leases WHERE account_id = ? AND expires_at > ? ORDER BY holder")) {
      s.setString(1, accountId);
      dialect.setInstant(s, 2, now);
      return read(s);
    }
  }

  /** Writes a row, inserting it or replacing the stored one (under the account's lock). */
  void put(Connection c, Row row) throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c,
            "INSERT INTO credit_leases ("
                + COLUMNS
                + ") VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, holder) DO UPDATE SET "
                + "credits = excluded.credits, version = excluded.version, "
                + "expires_at = excluded.expires_at")) {
      s.setString(1, row.accountId());
      s.setString(2, row.holder());
      s.setLong(3, row.credits());
      s.setLong(4, row.version());
      dialect.setInstant(s, 5, row.expiresAt());
      s.executeUpdate();
    }
  }

  /** Deletes the account's rows that expired before {@code before} (long dead, in no memory). */
  void purge(Connection c, String accountId, Instant before) throws SQLException {
    try (PreparedStatement s =
        db.prepare(c, "DELETE FROM credit_leases WHERE account_id = ? AND expires_at < ?")) {
      s.setString(1, accountId);
      dialect.setInstant(s, 2, before);
      s.executeUpdate();
    }
  }

  /**
   * Takes each account's debit out of the holder's live lease on it (down to 0) and returns the
   * rows changed. Runs in the transaction that writes the charges, under the accounts' locks; the
   * debits are consumed in their map's order, which must be account order (see {@link #renew}).
   */
  List<Row> consume(Connection c, String holder, Map<String, Long> debits, Instant now)
      throws SQLException {
    if (dialect == Dialect.POSTGRESQL) {
      return consumeAtOnce(c, holder, debits, now);
    }
    String sql =
        "UPDATE credit_leases SET credits = CASE WHEN credits > ? THEN credits - ? ELSE 0 END, "
            + "version = version + 1 WHERE account_id = ? AND holder = ? AND expires_at > ? "
            + "RETURNING "
            + COLUMNS;
    List<Row> changed = new ArrayList<>(debits.size());
    try (PreparedStatement s = db.prepare(c, sql)) {
      for (Map.Entry<String, Long> debit : debits.entrySet()) {
        s.setLong(1, debit.getValue());
        s.setLong(2, debit.getValue());
        s.setString(3, debit.getKey());
        s.setString(4, holder);
        dialect.setInstant(s, 5, now);
        changed.addAll(read(s));
      }
    }
    return changed;
  }

  /**
   * {@link #consume} on PostgreSQL: one statement for all the accounts, the debits passed as
   * arrays. A batch of one statement per account costs the server a statement's overhead each,
   * several times the whole of this one, and the charge batches hold their accounts' locks
   * meanwhile. Each row is found by its whole key (so no plan reads the holder's other rows) and
   * locked in the arrays' order, the accounts' order, as {@link #renew} locks them.
   */
  private List<Row> consumeAtOnce(
      Connection c, String holder, Map<String, Long> debits, Instant now) throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c,
            "WITH locked AS (SELECT l.account_id, d.debit FROM unnest(?::varchar[], ?::bigint[])"
                + " AS d(account_id, debit), LATERAL (SELECT account_id FROM credit_leases WHERE"
                + " account_id = d.account_id AND holder = ? AND expires_at > ? FOR UPDATE) l)"
                + " UPDATE credit_leases l SET credits = CASE WHEN l.credits > locked.debit THEN"
                + " l.credits - locked.debit ELSE 0 END, version = l.version + 1 FROM locked"
                + " WHERE l.account_id = locked.account_id AND l.holder = ? RETURNING "
                + "l.account_id, l.holder, l.credits, l.version, l.expires_at")) {
      s.setArray(1, c.createArrayOf("varchar", debits.keySet().toArray()));
      s.setArray(2, c.createArrayOf("bigint", debits.values().toArray()));
      s.setString(3, holder);
      dialect.setInstant(s, 4, now);
      s.setString(5, holder);
      return read(s);
    }
  }

  /**
   * Sets every lease on the account to 0 credits (an operator took credit away: the holders lease
   * again from what is left); returns the rows changed.
   */
  List<Row> revoke(Connection c, String accountId) throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c,
            "UPDATE credit_leases SET credits = 0, version = version + 1 "
                + "WHERE account_id = ? AND credits > 0 RETURNING "
                + COLUMNS)) {
      s.setString(1, accountId);
      return read(s);
    }
  }

  /**
   * Moves the expiry of the holder's leases live at {@code now} to {@code expiresAt}; returns the
   * rows renewed. An expired lease stays expired. The rows are locked in account order by character
   * codes (not the database's collation), the order in which a commit consumes them ({@link
   * #consume}, sorted in memory), so that the two never deadlock.
   */
  List<Row> renew(Connection c, String holder, Instant now, Instant expiresAt) throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c,
            "UPDATE credit_leases SET expires_at = ?, version = version + 1 "
                + "WHERE (account_id, holder) IN (SELECT account_id, holder FROM credit_leases "
                + "WHERE holder = ? AND expires_at > ? ORDER BY "
                + dialect.binaryOrder("account_id")
                + dialect.lockClause()
                + ") RETURNING "
                + COLUMNS)) {
      dialect.setInstant(s, 1, expiresAt);
      s.setString(2, holder);
      dialect.setInstant(s, 3, now);
      return read(s);
    }
  }

  private List<Row> read(PreparedStatement s) throws SQLException {
    List<Row> rows = new ArrayList<>();
    try (ResultSet found = s.executeQuery()) {
      while (found.next()) {
        rows.add(row(found));
      }
    }
    return rows;
  }

  private Row row(ResultSet rows) throws SQLException {
    return new Row(
        rows.getString("account_id"),
        rows.getString("holder"),
        rows.getLong("credits"),
        rows.getLong("version"),
        dialect.getInstant(rows, "expires_at"));
  }
}

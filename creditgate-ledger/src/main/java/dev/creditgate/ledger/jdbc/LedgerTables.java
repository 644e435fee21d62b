package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.AccountNotFoundException;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.Page;
import dev.creditgate.pricing.Usage;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The SQL of the {@code accounts} and {@code entries} tables, each statement written once: reading
 * rows into {@link Account} and {@link EntryRow}, locking and creating accounts, finding and
 * inserting entries. Every method runs on the connection (and transaction) it is given.
 */
final class LedgerTables {

  private static final String ACCOUNT_COLUMNS =
      "id, balance, blocked, version, granted, consumed, refunded, created_at, updated_at";
  private static final String ENTRY_COLUMNS =
      "id, account_id, event_id, kind, amount, balance_after, request_id, "
          + "scene, provider, model, input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_micros, "
          + "price_rule_id, unpriced, estimated, ref_event_id, actor, reason, metadata, created_at";
  private static final String INSERT_ACCOUNT =
      "INSERT INTO accounts ("
          + ACCOUNT_COLUMNS
          + ") VALUES (?, 0, ?, 0, 0, 0, 0, ?, ?) ON CONFLICT (id) DO NOTHING";
  private static final String INSERT_ENTRY =
      "INSERT INTO entries (account_id, event_id, kind, amount, "
          + "balance_after, request_id, scene, provider, model, input_tokens, output_tokens, cached_tokens, "
          + "reasoning_tokens, cost_micros, price_rule_id, unpriced, estimated, ref_event_id, actor, reason, metadata, "
          + "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  /** Inserts an entry unless its account and event id are taken; returns no row then. */
  static final String INSERT_NEW_ENTRY =
      INSERT_ENTRY + " ON CONFLICT (account_id, event_id) DO NOTHING";

  private final LedgerDatabase db;
  private final Dialect dialect;

  LedgerTables(LedgerDatabase db) {
    this.db = db;
    this.dialect = db.dialect();
  }

  // ---------------------------------------------------------------- accounts

  Optional<Account> account(Connection c, String accountId) throws SQLException {
    try (PreparedStatement s =
        db.prepare(c, "SELECT " + ACCOUNT_COLUMNS + " FROM accounts WHERE id = ?")) {
      s.setString(1, accountId);
      try (ResultSet rows = s.executeQuery()) {
        return rows.next() ? Optional.of(readAccount(rows)) : Optional.empty();
      }
    }
  }

  /**
   * Accounts ordered by id after {@code after}, one more than {@code limit} to tell whether a page
   * follows.
   */
  Page<Account> accounts(Connection c, String after, int limit) throws SQLException {
    List<Account> items = new ArrayList<>();
    try (PreparedStatement s =
        db.prepare(
            c, "SELECT " + ACCOUNT_COLUMNS + " FROM accounts WHERE id > ? ORDER BY id LIMIT ?")) {
      s.setString(1, after);
      s.setInt(2, limit + 1);
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          items.add(readAccount(rows));
        }
      }
    }
    if (items.size() <= limit) {
      return new Page<>(items, null);
    }
    List<Account> page = items.subList(0, limit);
    return new Page<>(page, page.get(limit - 1).id());
  }

  /**
   * Reads the account row with a lock for the rest of the transaction, creating it first if asked.
   */
  Account lockAccount(Connection c, String accountId, boolean create, Instant now)
      throws SQLException {
    Account found = lockAccounts(c, List.of(accountId)).get(accountId);
    if (found != null) {
      return found;
    }
    if (!create) {
      throw new AccountNotFoundException(accountId);
    }
    insertAccounts(c, List.of(accountId), now);
    found = lockAccounts(c, List.of(accountId)).get(accountId);
    if (found == null) {
      throw new IllegalStateException(
          "account '" + accountId + "' vanished right after it was created");
    }
    return found;
  }

  /** Reads the accounts that exist among {@code ids}, locking their rows, in id order. */
  Map<String, Account> lockAccounts(Connection c, List<String> ids) throws SQLException {
    Map<String, Account> found = new HashMap<>();
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT "
                + ACCOUNT_COLUMNS
                + " FROM accounts WHERE id IN ("
                + marks(ids.size())
                + ") ORDER BY id"
                + dialect.lockClause())) {
      for (int i = 0; i < ids.size(); i++) {
        s.setString(i + 1, ids.get(i));
      }
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          Account account = readAccount(rows);
          found.put(account.id(), account);
        }
      }
    }
    return found;
  }

  /** Creates the accounts with a zero balance; one that exists is left as it is. */
  void insertAccounts(Connection c, Collection<String> ids, Instant now) throws SQLException {
    try (PreparedStatement s = db.prepare(c, INSERT_ACCOUNT)) {
      for (String id : ids) {
        s.setString(1, id);
        s.setBoolean(2, false);
        dialect.setInstant(s, 3, now);
        dialect.setInstant(s, 4, now);
        s.addBatch();
      }
      s.executeBatch();
    }
  }

  /**
   * Writes the accounts' new states, each guarded by the version it had when it was locked (in
   * {@code before}, by id), in one batch.
   */
  void updateAccounts(Connection c, Map<String, Account> before, Collection<Account> after)
      throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c,
            "UPDATE accounts SET balance = ?, blocked = ?, version = ?, granted = ?, "
                + "consumed = ?, refunded = ?, updated_at = ? WHERE id = ? AND version = ?")) {
      for (Account account : after) {
        s.setLong(1, account.balance());
        s.setBoolean(2, account.blocked());
        s.setLong(3, account.version());
        s.setLong(4, account.granted());
        s.setLong(5, account.consumed());
        s.setLong(6, account.refunded());
        dialect.setInstant(s, 7, account.updatedAt());
        s.setString(8, account.id());
        s.setLong(9, before.get(account.id()).version());
        s.addBatch();
      }
      for (int count : s.executeBatch()) {
        if (count != 1 && count != Statement.SUCCESS_NO_INFO) {
          // The rows are locked by this transaction; a miss means something outside the ledger
          // changed one.
          throw new IllegalStateException("an account changed under its lock");
        }
      }
    }
  }

  Account readAccount(ResultSet rows) throws SQLException {
    return new Account(
        rows.getString("id"),
        rows.getLong("balance"),
        rows.getBoolean("blocked"),
        rows.getLong("version"),
        rows.getLong("granted"),
        rows.getLong("consumed"),
        rows.getLong("refunded"),
        dialect.getInstant(rows, "created_at"),
        dialect.getInstant(rows, "updated_at"));
  }

  // ---------------------------------------------------------------- entries

  EntryRow findEntry(Connection c, String accountId, String eventId) throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c, "SELECT " + ENTRY_COLUMNS + " FROM entries WHERE account_id = ? AND event_id = ?")) {
      s.setString(1, accountId);
      s.setString(2, eventId);
      try (ResultSet rows = s.executeQuery()) {
        return rows.next() ? readEntry(rows) : null;
      }
    }
  }

  /** The stored entries among {@code keys} (see {@link #key}), by key, read in one statement. */
  Map<String, EntryRow> findEntries(
      Connection c, List<String> accounts, List<String> events, Set<String> keys)
      throws SQLException {
    Map<String, EntryRow> found = new HashMap<>();
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT "
                + ENTRY_COLUMNS
                + " FROM entries WHERE account_id IN ("
                + marks(accounts.size())
                + ") AND event_id IN ("
                + marks(events.size())
                + ")")) {
      int index = 1;
      for (String account : accounts) {
        s.setString(index++, account);
      }
      for (String event : events) {
        s.setString(index++, event);
      }
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          EntryRow row = readEntry(rows);
          String key = key(row.entry().accountId(), row.entry().eventId());
          if (keys.contains(key)) {
            found.put(key, row);
          }
        }
      }
    }
    return found;
  }

  /**
   * The account's entries with an id below {@code before}, newest first, one more than {@code
   * limit}.
   */
  Page<LedgerEntry> entries(Connection c, String accountId, long before, int limit)
      throws SQLException {
    List<LedgerEntry> items = new ArrayList<>();
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT "
                + ENTRY_COLUMNS
                + " FROM entries WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?")) {
      s.setString(1, accountId);
      s.setLong(2, before);
      s.setInt(3, limit + 1);
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          items.add(readEntry(rows).entry());
        }
      }
    }
    if (items.size() <= limit) {
      return new Page<>(items, null);
    }
    List<LedgerEntry> page = items.subList(0, limit);
    return new Page<>(page, Long.toString(page.get(limit - 1).id()));
  }

  /** The credits refunded so far of the charge {@code chargeEventId}. */
  long refundedSoFar(Connection c, String accountId, String chargeEventId) throws SQLException {
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT COALESCE(SUM(amount), 0) FROM entries "
                + "WHERE account_id = ? AND ref_event_id = ? AND kind = 'REFUND'")) {
      s.setString(1, accountId);
      s.setString(2, chargeEventId);
      try (ResultSet rows = s.executeQuery()) {
        rows.next();
        return rows.getLong(1);
      }
    }
  }

  LedgerEntry insertEntry(
      Connection c,
      String accountId,
      String eventId,
      EntryDraft draft,
      long balanceAfter,
      Instant now)
      throws SQLException {
    try (PreparedStatement s = db.prepare(c, INSERT_ENTRY + " RETURNING id")) {
      bindEntry(s, accountId, eventId, draft, balanceAfter, now);
      try (ResultSet rows = s.executeQuery()) {
        rows.next();
        return draft.toEntry(rows.getLong(1), accountId, eventId, balanceAfter, now);
      }
    }
  }

  void bindEntry(
      PreparedStatement s,
      String accountId,
      String eventId,
      EntryDraft d,
      long balanceAfter,
      Instant now)
      throws SQLException {
    s.setString(1, accountId);
    s.setString(2, eventId);
    s.setString(3, d.kind().name());
    s.setLong(4, d.amount());
    s.setLong(5, balanceAfter);
    s.setString(6, d.requestId());
    s.setString(7, d.scene());
    s.setString(8, d.provider());
    s.setString(9, d.model());
    s.setLong(10, d.usage().inputTokens());
    s.setLong(11, d.usage().outputTokens());
    s.setLong(12, d.usage().cachedTokens());
    s.setLong(13, d.usage().reasoningTokens());
    s.setLong(14, d.costMicros());
    s.setLong(15, d.priceRuleId());
    s.setBoolean(16, d.unpriced());
    s.setBoolean(17, d.estimated());
    s.setString(18, d.refEventId());
    s.setString(19, d.actor());
    s.setString(20, d.reason());
    s.setString(21, d.metadata());
    dialect.setInstant(s, 22, now);
  }

  private EntryRow readEntry(ResultSet rows) throws SQLException {
    Usage usage =
        new Usage(
            rows.getLong("input_tokens"),
            rows.getLong("output_tokens"),
            rows.getLong("cached_tokens"),
            rows.getLong("reasoning_tokens"));
    LedgerEntry entry =
        new LedgerEntry(
            rows.getLong("id"),
            rows.getString("account_id"),
            rows.getString("event_id"),
            EntryKind.valueOf(rows.getString("kind")),
            rows.getLong("amount"),
            rows.getLong("balance_after"),
            rows.getString("request_id"),
            rows.getString("scene"),
            rows.getString("model"),
            usage,
            rows.getLong("cost_micros"),
            rows.getLong("price_rule_id"),
            rows.getBoolean("unpriced"),
            rows.getBoolean("estimated"),
            rows.getString("actor"),
            rows.getString("reason"),
            rows.getString("metadata"),
            dialect.getInstant(rows, "created_at"));
    return new EntryRow(entry, rows.getString("provider"), rows.getString("ref_event_id"));
  }

  /** The key of an account's event id, for maps and sets. */
  static String key(String accountId, String eventId) {
    return accountId + "\n" + eventId;
  }

  private static String marks(int count) {
    return String.join(", ", Collections.nCopies(count, "?"));
  }
}

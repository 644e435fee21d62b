package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.Page;
import dev.creditgate.ledger.VerifyResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Checks an account against its entries, with the account row locked: its balance and totals are
 * the sums of its entries, its version their count, every entry's balance_after the running sum,
 * and its blocked flag the last block or unblock entry.
 */
final class LedgerVerifier {

  private final LedgerDatabase db;
  private final LedgerTables tables;

  LedgerVerifier(LedgerDatabase db, LedgerTables tables) {
    this.db = db;
    this.tables = tables;
  }

  /**
   * @throws dev.creditgate.ledger.AccountNotFoundException when the account does not exist
   */
  VerifyResult verify(String accountId) {
    return db.transaction(c -> verifyIn(c, tables.lockAccount(c, accountId, false, db.now())));
  }

  /**
   * Verifies every account with {@code verify}, a page at a time; returns the inconsistent ones.
   */
  List<VerifyResult> verifyAll(Function<String, VerifyResult> verify) {
    List<VerifyResult> inconsistent = new ArrayList<>();
    String after = "";
    while (after != null) {
      String from = after;
      Page<Account> page = db.read(c -> tables.accounts(c, from, LedgerArguments.MAX_PAGE_SIZE));
      for (Account account : page.items()) {
        VerifyResult result = verify.apply(account.id());
        if (!result.consistent()) {
          inconsistent.add(result);
        }
      }
      after = page.nextCursor();
    }
    return inconsistent;
  }

  private VerifyResult verifyIn(Connection c, Account account) throws SQLException {
    List<String> problems = new ArrayList<>();
    long count;
    long sum;
    long granted;
    long consumed;
    long refunded;
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT COUNT(*), COALESCE(SUM(amount), 0), "
                + "COALESCE(SUM(CASE WHEN kind = 'GRANT' THEN amount ELSE 0 END), 0), "
                + "COALESCE(SUM(CASE WHEN kind = 'CHARGE' THEN -amount ELSE 0 END), 0), "
                + "COALESCE(SUM(CASE WHEN kind = 'REFUND' THEN amount ELSE 0 END), 0) FROM entries WHERE account_id = ?")) {
      s.setString(1, account.id());
      try (ResultSet rows = s.executeQuery()) {
        rows.next();
        count = rows.getLong(1);
        sum = rows.getLong(2);
        granted = rows.getLong(3);
        consumed = rows.getLong(4);
        refunded = rows.getLong(5);
      }
    }
    if (sum != account.balance()) {
      problems.add("balance " + account.balance() + " differs from the sum of entries " + sum);
    }
    if (granted != account.granted()) {
      problems.add(
          "granted total " + account.granted() + " differs from the sum of grants " + granted);
    }
    if (consumed != account.consumed()) {
      problems.add(
          "consumed total " + account.consumed() + " differs from the sum of charges " + consumed);
    }
    if (refunded != account.refunded()) {
      problems.add(
          "refunded total " + account.refunded() + " differs from the sum of refunds " + refunded);
    }
    if (count != account.version()) {
      problems.add("version " + account.version() + " differs from the number of entries " + count);
    }
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT COUNT(*) FROM (SELECT balance_after, SUM(amount) OVER "
                + "(ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM entries "
                + "WHERE account_id = ?) chain WHERE running <> balance_after")) {
      s.setString(1, account.id());
      try (ResultSet rows = s.executeQuery()) {
        rows.next();
        long broken = rows.getLong(1);
        if (broken != 0) {
          problems.add(
              broken + " entries have a balance_after that is not the running sum of amounts");
        }
      }
    }
    try (PreparedStatement s =
        db.prepare(
            c,
            "SELECT kind FROM entries WHERE account_id = ? "
                + "AND kind IN ('BLOCK', 'UNBLOCK') ORDER BY id DESC LIMIT 1")) {
      s.setString(1, account.id());
      try (ResultSet rows = s.executeQuery()) {
        boolean blockedByEntries = rows.next() && rows.getString(1).equals(EntryKind.BLOCK.name());
        if (blockedByEntries != account.blocked()) {
          problems.add(
              "blocked flag " + account.blocked() + " differs from the last block/unblock entry");
        }
      }
    }
    return new VerifyResult(account.id(), problems.isEmpty(), account.balance(), sum, problems);
  }
}

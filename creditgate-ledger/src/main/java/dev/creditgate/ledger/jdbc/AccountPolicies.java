package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.CreditPolicy;
import dev.creditgate.meter.CreditMode;
import dev.creditgate.meter.ShortfallPolicy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Accounts' own credit settings in the {@code account_credit_policies} table: read whole and kept
 * in memory ({@link RefreshingRead}), since a meter asks on every admission and only accounts with
 * their own settings have a row.
 */
final class AccountPolicies {

  private final LedgerDatabase db;
  private final LedgerTables tables;
  private final RefreshingRead<Map<String, CreditPolicy>> all;

  AccountPolicies(LedgerDatabase db, LedgerTables tables, java.time.Duration refresh) {
    this.db = db;
    this.tables = tables;
    this.all =
        new RefreshingRead<>(
            "credit-policies", () -> db.read(this::readAll), System::nanoTime, refresh);
  }

  Optional<CreditPolicy> policy(String accountId) {
    return Optional.ofNullable(all.get().get(accountId));
  }

  Optional<CreditPolicy> set(String accountId, CreditPolicy policy, String actor) {
    Objects.requireNonNull(policy, "policy");
    db.transaction(
        c -> {
          Instant now = db.now();
          tables.lockAccount(c, accountId, false, now);
          if (policy.isEmpty()) {
            try (PreparedStatement s =
                db.prepare(c, "DELETE FROM account_credit_policies WHERE account_id = ?")) {
              s.setString(1, accountId);
              s.executeUpdate();
            }
            return null;
          }
          try (PreparedStatement s =
              db.prepare(
                  c,
                  "INSERT INTO account_credit_policies (account_id, credit_mode, shortfall,"
                      + " overdraft, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                      + " ON CONFLICT (account_id) DO UPDATE SET credit_mode = excluded.credit_mode,"
                      + " shortfall = excluded.shortfall, overdraft = excluded.overdraft,"
                      + " updated_by = excluded.updated_by, updated_at = excluded.updated_at")) {
            s.setString(1, accountId);
            s.setString(2, policy.mode().map(Enum::name).orElse(null));
            s.setString(3, policy.shortfall().map(Enum::name).orElse(null));
            if (policy.overdraft().isPresent()) {
              s.setLong(4, policy.overdraft().getAsLong());
            } else {
              s.setNull(4, java.sql.Types.BIGINT);
            }
            s.setString(5, Objects.requireNonNullElse(actor, ""));
            db.dialect().setInstant(s, 6, now);
            s.executeUpdate();
          }
          return null;
        });
    all.invalidate();
    return policy.isEmpty() ? Optional.empty() : Optional.of(policy);
  }

  private Map<String, CreditPolicy> readAll(Connection c) throws SQLException {
    Map<String, CreditPolicy> read = new HashMap<>();
    try (PreparedStatement s =
            db.prepare(
                c,
                "SELECT account_id, credit_mode, shortfall, overdraft FROM account_credit_policies");
        ResultSet rows = s.executeQuery()) {
      while (rows.next()) {
        String mode = rows.getString("credit_mode");
        String shortfall = rows.getString("shortfall");
        long overdraft = rows.getLong("overdraft");
        boolean noOverdraft = rows.wasNull();
        read.put(
            rows.getString("account_id"),
            new CreditPolicy(
                Optional.ofNullable(mode).map(CreditMode::valueOf),
                Optional.ofNullable(shortfall).map(ShortfallPolicy::valueOf),
                noOverdraft ? OptionalLong.empty() : OptionalLong.of(overdraft)));
      }
    }
    return Map.copyOf(read);
  }
}

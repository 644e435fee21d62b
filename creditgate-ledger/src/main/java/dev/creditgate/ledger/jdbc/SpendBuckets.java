package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.SpendBucket;
import dev.creditgate.ledger.SpendQuery;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The spend series in one aggregate statement over {@code entries}: charges and refunds in the
 * range, summed per bucket and group in the database, so only the buckets travel.
 *
 * <p>The statement finds its rows through the partial indexes of V6 ({@code entries_spend_account}
 * for one account, {@code entries_spend_time} for all), whose condition its WHERE clause repeats as
 * written (SQLite uses a partial index only then). A refund records no model or alias of its own:
 * it takes its charge's, looked up by a subquery evaluated for refund rows only, through the unique
 * index on (account_id, event_id).
 *
 * <p>PostgreSQL sums BIGINTs into NUMERIC, read here exactly; SQLite fails a sum that overflows.
 * Either way a sum beyond a long is an {@link ArithmeticException}, never a wrapped value.
 */
final class SpendBuckets {

  /** The charges and refunds; the partial indexes' condition, word for word. */
  static final String SPENDING = "e.kind IN ('CHARGE', 'REFUND')";

  private static final Comparator<SpendBucket> ORDER =
      Comparator.comparing(SpendBucket::start).thenComparing(SpendBucket::group);

  private final LedgerDatabase db;
  private final Dialect dialect;

  SpendBuckets(LedgerDatabase db) {
    this.db = db;
    this.dialect = db.dialect();
  }

  List<SpendBucket> spend(SpendQuery q) {
    String sql = sql(dialect, q);
    return db.read(
        c -> {
          try {
            return run(c, sql, q);
          } catch (SQLException e) {
            if (dialect == Dialect.SQLITE && String.valueOf(e.getMessage()).contains("overflow")) {
              throw new ArithmeticException("a spend sum does not fit in a long: " + q);
            }
            throw e;
          }
        });
  }

  private List<SpendBucket> run(Connection c, String sql, SpendQuery q) throws SQLException {
    List<SpendBucket> buckets = new ArrayList<>();
    try (PreparedStatement s = db.prepare(c, sql)) {
      bind(dialect, s, q);
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          long charged = exact(rows, "charged");
          long refunded = exact(rows, "refunded");
          buckets.add(
              new SpendBucket(
                  dialect.getInstant(rows, "bucket"),
                  rows.getString("grp"),
                  Math.subtractExact(charged, refunded),
                  refunded,
                  exact(rows, "charges"),
                  exact(rows, "input_tokens"),
                  exact(rows, "output_tokens")));
        }
      }
    }
    buckets.sort(ORDER);
    return buckets;
  }

  /** The statement for {@code q}: from and to bound as 1 and 2, the account (if any) as 3. */
  static String sql(Dialect dialect, SpendQuery q) {
    String charge = "e.kind = 'CHARGE'";
    return "SELECT "
        + bucket(dialect, q.width())
        + " AS bucket, CASE WHEN "
        + charge
        + " THEN "
        + group(dialect, q.groupBy(), "e")
        + " ELSE COALESCE((SELECT "
        + group(dialect, q.groupBy(), "c")
        + " FROM entries c WHERE c.account_id = e.account_id AND c.event_id = e.ref_event_id), '')"
        + " END AS grp,"
        + sum(charge, "-e.amount", "charged")
        + ","
        + sum("e.kind = 'REFUND'", "e.amount", "refunded")
        + ","
        + sum(charge, "1", "charges")
        + ","
        + sum(charge, "e.input_tokens", "input_tokens")
        + ","
        + sum(charge, "e.output_tokens", "output_tokens")
        + " FROM entries e WHERE "
        + SPENDING
        + " AND e.created_at >= ? AND e.created_at < ?"
        + (q.accountId() == null ? "" : " AND e.account_id = ?")
        + " GROUP BY 1, 2";
  }

  /** Binds the parameters of {@link #sql}. */
  static void bind(Dialect dialect, PreparedStatement s, SpendQuery q) throws SQLException {
    dialect.setInstant(s, 1, ceilMicros(q.from()));
    dialect.setInstant(s, 2, ceilMicros(q.to()));
    if (q.accountId() != null) {
      s.setString(3, q.accountId());
    }
  }

  private static String sum(String when, String value, String name) {
    return " SUM(CASE WHEN " + when + " THEN " + value + " ELSE 0 END) AS " + name;
  }

  /** The start of the entry's bucket, of the type the dialect stores instants as. */
  private static String bucket(Dialect dialect, SpendQuery.Width width) {
    if (dialect == Dialect.POSTGRESQL) {
      return "date_trunc('"
          + width.lowerCaseName()
          + "', e.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'";
    }
    // Microseconds since the epoch, never negative here (the range starts at the epoch at the
    // earliest), so the remainder rounds down; a UTC day is 86,400 seconds in epoch time.
    long micros = width.duration().toNanos() / 1000;
    return "(e.created_at - e.created_at % " + micros + ")";
  }

  /** The group of entry {@code t}: its model, or the alias in its metadata. */
  private static String group(Dialect dialect, SpendQuery.GroupBy groupBy, String t) {
    if (groupBy == SpendQuery.GroupBy.MODEL) {
      return t + ".model";
    }
    return dialect == Dialect.POSTGRESQL
        ? "COALESCE(" + t + ".metadata::jsonb ->> 'alias', '')"
        : "COALESCE(CAST(json_extract(" + t + ".metadata, '$.alias') AS TEXT), '')";
  }

  /** A sum column as a long, or an ArithmeticException when it does not fit. */
  private static long exact(ResultSet rows, String column) throws SQLException {
    BigDecimal value = rows.getBigDecimal(column);
    try {
      return value == null ? 0 : value.longValueExact();
    } catch (ArithmeticException e) {
      throw new ArithmeticException(column + " sum " + value + " does not fit in a long");
    }
  }

  /**
   * {@code instant} rounded up to the microsecond the database stores: an entry is then in the
   * range exactly when its stored time is, for both the inclusive and the exclusive bound.
   */
  static Instant ceilMicros(Instant instant) {
    Instant down = instant.truncatedTo(ChronoUnit.MICROS);
    return down.equals(instant) ? down : down.plus(1, ChronoUnit.MICROS);
  }
}

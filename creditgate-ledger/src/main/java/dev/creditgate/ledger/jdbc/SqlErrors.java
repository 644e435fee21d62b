package dev.creditgate.ledger.jdbc;

import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;

/** Tells a database that cannot answer now (spool and retry) from a request it refuses (report). */
final class SqlErrors {

  private static final int SQLITE_BUSY = 5;
  private static final int SQLITE_LOCKED = 6;
  private static final int SQLITE_IOERR = 10;
  private static final int SQLITE_FULL = 13;
  private static final int SQLITE_CANTOPEN = 14;
  private static final int SQLITE_PROTOCOL = 15;
  private static final int SQLITE_CONSTRAINT = 19;

  private SqlErrors() {}

  /**
   * Whether the failure says nothing about the request: connection lost, timeout, lock, resources.
   */
  static boolean isUnavailable(SQLException e) {
    if (e instanceof SQLTransientException
        || e instanceof SQLRecoverableException
        || e instanceof SQLNonTransientConnectionException) {
      return true;
    }
    String state = e.getSQLState();
    if (state != null && state.length() >= 2) {
      String sqlClass = state.substring(0, 2);
      // 08 connection, 53 resources, 57 operator intervention and statement timeout, 40
      // serialization/deadlock,
      // 58 system error, HY/XX driver or internal trouble.
      if (sqlClass.equals("08")
          || sqlClass.equals("53")
          || sqlClass.equals("57")
          || sqlClass.equals("40")
          || sqlClass.equals("58")
          || sqlClass.equals("XX")) {
        return true;
      }
    }
    if (isSqlite(e)) {
      int primary = e.getErrorCode() & 0xff;
      return primary == SQLITE_BUSY
          || primary == SQLITE_LOCKED
          || primary == SQLITE_IOERR
          || primary == SQLITE_FULL
          || primary == SQLITE_CANTOPEN
          || primary == SQLITE_PROTOCOL;
    }
    // A closed or broken connection often surfaces without a state.
    return state == null
        && e.getMessage() != null
        && e.getMessage().toLowerCase(java.util.Locale.ROOT).contains("closed");
  }

  /** Whether the failure is a unique-key violation (a concurrent insert of the same key won). */
  static boolean isUniqueViolation(SQLException e) {
    if ("23505".equals(e.getSQLState())) {
      return true;
    }
    return isSqlite(e)
        && (e.getErrorCode() & 0xff) == SQLITE_CONSTRAINT
        && e.getMessage() != null
        && e.getMessage().contains("UNIQUE");
  }

  /**
   * Whether a CHECK constraint or a cast refused a value (e.g. metadata that is not a JSON object).
   */
  static boolean isBadValue(SQLException e) {
    String state = e.getSQLState();
    if (state != null && (state.startsWith("22") || state.equals("23514"))) {
      return true;
    }
    return isSqlite(e)
        && (e.getErrorCode() & 0xff) == SQLITE_CONSTRAINT
        && e.getMessage() != null
        && e.getMessage().contains("CHECK");
  }

  private static boolean isSqlite(SQLException e) {
    return e.getClass().getName().startsWith("org.sqlite.");
  }
}

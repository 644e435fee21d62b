package dev.creditgate.ledger.jdbc;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;

/** The databases the ledger runs on, told apart by the JDBC URL. */
public enum Dialect {
  POSTGRESQL("jdbc:postgresql:", "db/migration/postgresql", " FOR UPDATE", " COLLATE \"C\""),
  SQLITE("jdbc:sqlite:", "db/migration/sqlite", "", "");

  private final String urlPrefix;
  private final String migrationLocation;
  private final String lockClause;
  private final String binaryCollation;

  Dialect(String urlPrefix, String migrationLocation, String lockClause, String binaryCollation) {
    this.urlPrefix = urlPrefix;
    this.migrationLocation = migrationLocation;
    this.lockClause = lockClause;
    this.binaryCollation = binaryCollation;
  }

  /**
   * The dialect of {@code jdbcUrl}.
   *
   * @throws IllegalArgumentException naming the URL when it is neither PostgreSQL nor SQLite
   */
  public static Dialect of(String jdbcUrl) {
    if (jdbcUrl != null) {
      for (Dialect dialect : values()) {
        if (jdbcUrl.startsWith(dialect.urlPrefix)) {
          return dialect;
        }
      }
    }
    throw new IllegalArgumentException(
        "jdbcUrl must start with jdbc:postgresql: or jdbc:sqlite:, but was "
            + (jdbcUrl == null ? "null" : "'" + jdbcUrl + "'"));
  }

  /** The classpath location of the ledger's Flyway migrations for this dialect. */
  public String migrationLocation() {
    return "classpath:" + migrationLocation;
  }

  /**
   * Appended to a SELECT to lock the rows it reads ("" where the transaction already holds the
   * write lock).
   */
  String lockClause() {
    return lockClause;
  }

  /**
   * {@code column} ordered by its characters' codes, whatever the database's collation: the order
   * of {@link String#compareTo} for the ASCII of account ids, in which the ledger sorts in memory.
   */
  String binaryOrder(String column) {
    return column + binaryCollation;
  }

  /**
   * Timestamps are stored to the microsecond (PostgreSQL's precision), so a read returns what was
   * written.
   */
  static Instant truncate(Instant instant) {
    return instant.truncatedTo(ChronoUnit.MICROS);
  }

  void setInstant(PreparedStatement statement, int index, Instant instant) throws SQLException {
    if (this == POSTGRESQL) {
      statement.setObject(index, OffsetDateTime.ofInstant(instant, ZoneOffset.UTC));
    } else {
      statement.setLong(index, ChronoUnit.MICROS.between(Instant.EPOCH, instant));
    }
  }

  Instant getInstant(ResultSet rows, String column) throws SQLException {
    if (this == POSTGRESQL) {
      return rows.getObject(column, OffsetDateTime.class).toInstant();
    }
    return Instant.EPOCH.plus(rows.getLong(column), ChronoUnit.MICROS);
  }
}

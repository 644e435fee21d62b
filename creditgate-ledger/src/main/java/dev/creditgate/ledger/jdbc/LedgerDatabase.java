package dev.creditgate.ledger.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
import dev.creditgate.ledger.LedgerUnavailableException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ledger's database: its HikariCP pool, its Flyway schema, and transactions that are bounded in
 * time and translate every {@link SQLException} into what the caller can act on (unavailable: spool
 * and retry; a refused value: report; a unique-key race: retry the operation).
 */
final class LedgerDatabase implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(LedgerDatabase.class);

  private final Dialect dialect;
  private final HikariDataSource dataSource;
  private final Clock clock;
  private final int queryTimeoutSeconds;
  private final long statementTimeoutMillis;
  private final ReentrantLock sqliteWriteLock = new ReentrantLock(true);

  LedgerDatabase(LedgerOptions options) {
    this.dialect = Dialect.of(options.jdbcUrl());
    this.clock = options.clock();
    this.statementTimeoutMillis = options.statementTimeout().toMillis();
    this.queryTimeoutSeconds = (int) Math.max(1, (statementTimeoutMillis + 999) / 1000);
    this.dataSource = createDataSource(options, dialect);
  }

  /** Work done on one connection; the transaction or read around it handles the connection. */
  @FunctionalInterface
  interface SqlWork<T> {
    T run(Connection connection) throws SQLException;
  }

  /**
   * Thrown inside a transaction when a unique key was taken concurrently; the operation is retried.
   */
  static final class UniqueRace extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UniqueRace(SQLException cause) {
      super(cause);
    }
  }

  private static HikariDataSource createDataSource(LedgerOptions o, Dialect dialect) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("creditgate-ledger");
    config.setJdbcUrl(o.jdbcUrl());
    if (o.username() != null) {
      config.setUsername(o.username());
    }
    if (o.password() != null) {
      config.setPassword(o.password());
    }
    config.setMaximumPoolSize(o.poolSize());
    long connectionMillis = o.connectionTimeout().toMillis();
    config.setConnectionTimeout(connectionMillis);
    config.setValidationTimeout(Math.min(connectionMillis, 1000));
    // Start (and spool) even when the database is down; connections are made when it is back.
    config.setInitializationFailTimeout(-1);
    long statementMillis = o.statementTimeout().toMillis();
    if (dialect == Dialect.POSTGRESQL) {
      config.setConnectionInitSql("SET statement_timeout = " + statementMillis);
      // A network-level backstop should the server stop answering altogether.
      config.addDataSourceProperty("socketTimeout", Long.toString(statementMillis / 1000 + 5));
      config.addDataSourceProperty(
          "connectTimeout", Long.toString(Math.max(1, o.connectionTimeout().toSeconds())));
    } else {
      createSqliteDirectory(o.jdbcUrl());
      config.addDataSourceProperty("journal_mode", "WAL");
      // A ledger keeps a committed charge even through a power loss.
      config.addDataSourceProperty("synchronous", "FULL");
      config.addDataSourceProperty("busy_timeout", Long.toString(statementMillis));
      // Reads through a memory map instead of a read() per page: every commit of one pooled
      // connection invalidates the others' page caches, and the ledger commits hundreds of times a
      // second under load.
      config.addDataSourceProperty("mmap_size", Long.toString(256L * 1024 * 1024));
      config.addDataSourceProperty("foreign_keys", "true");
    }
    return new HikariDataSource(config);
  }

  private static void createSqliteDirectory(String jdbcUrl) {
    String path = jdbcUrl.substring("jdbc:sqlite:".length());
    int query = path.indexOf('?');
    if (query >= 0) {
      path = path.substring(0, query);
    }
    if (path.isEmpty() || path.startsWith(":memory:") || path.startsWith("file:")) {
      return;
    }
    Path parent = Path.of(path).toAbsolutePath().getParent();
    try {
      if (parent != null) {
        Files.createDirectories(parent);
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "jdbcUrl names a SQLite file whose directory cannot be created: " + parent, e);
    }
  }

  /**
   * Brings the schema at {@code jdbcUrl} up to date through a pool of its own; returns the
   * migrations applied.
   */
  static int migrate(String jdbcUrl) {
    Dialect dialect = Dialect.of(jdbcUrl);
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    // Flyway holds one connection for its lock on PostgreSQL while it migrates on another: with a
    // pool of one it waited for itself until the pool's timeout.
    config.setMaximumPoolSize(2);
    config.setPoolName("creditgate-migrate");
    if (dialect == Dialect.SQLITE) {
      createSqliteDirectory(jdbcUrl);
    }
    try (HikariDataSource source = new HikariDataSource(config)) {
      return migrate(source, dialect);
    } catch (HikariPool.PoolInitializationException e) {
      throw new LedgerUnavailableException(
          "cannot connect to the ledger database to migrate it", e);
    }
  }

  /** Brings this database's schema up to date. */
  void migrate() {
    migrate(dataSource, dialect);
  }

  private static int migrate(DataSource source, Dialect dialect) {
    try {
      return Flyway.configure()
          .dataSource(source)
          .locations(dialect.migrationLocation())
          .load()
          .migrate()
          .migrationsExecuted;
    } catch (FlywayException e) {
      throw new LedgerUnavailableException(
          "cannot migrate the ledger database: " + e.getMessage(), e);
    }
  }

  Dialect dialect() {
    return dialect;
  }

  DataSource dataSource() {
    return dataSource;
  }

  /** Now, to the precision the database stores. */
  Instant now() {
    return Dialect.truncate(clock.instant());
  }

  /**
   * Runs {@code work} in one transaction: committed when it returns, rolled back when it throws.
   */
  <T> T transaction(SqlWork<T> work) {
    if (dialect != Dialect.SQLITE) {
      return transactionOnce(work);
    }
    // SQLite has one writer at a time; its busy handler polls and is unfair, so under load a writer
    // can starve past the busy timeout. Queueing this process's writers fairly here leaves the busy
    // timeout to arbitrate only with other processes.
    try {
      if (!sqliteWriteLock.tryLock(statementTimeoutMillis, TimeUnit.MILLISECONDS)) {
        throw new LedgerUnavailableException(
            "ledger database busy: no write turn within " + statementTimeoutMillis + " ms", null);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LedgerUnavailableException("interrupted while waiting for a write turn", e);
    }
    try {
      return transactionOnce(work);
    } finally {
      sqliteWriteLock.unlock();
    }
  }

  private <T> T transactionOnce(SqlWork<T> work) {
    Connection c;
    try {
      c = dataSource.getConnection();
    } catch (SQLException e) {
      throw translate(e);
    }
    T result;
    try {
      begin(c);
      result = work.run(c);
      commit(c);
    } catch (SQLException e) {
      rollbackQuietly(c);
      closeQuietly(c);
      throw translate(e);
    } catch (RuntimeException | Error e) {
      rollbackQuietly(c);
      closeQuietly(c);
      throw e;
    }
    // Committed: whatever fails from here on must not make the caller think the change was lost.
    try {
      if (dialect == Dialect.POSTGRESQL) {
        c.setAutoCommit(true);
      }
    } catch (SQLException e) {
      LOG.debug("resetting auto-commit after a commit failed: {}", e.toString());
    }
    closeQuietly(c);
    return result;
  }

  /** Runs {@code work} on a connection of its own, outside a transaction. */
  <T> T read(SqlWork<T> work) {
    try (Connection c = dataSource.getConnection()) {
      return work.run(c);
    } catch (SQLException e) {
      throw translate(e);
    }
  }

  private void begin(Connection c) throws SQLException {
    if (dialect == Dialect.SQLITE) {
      // Takes the write lock up front, so two writers never deadlock upgrading a read lock.
      try (Statement s = c.createStatement()) {
        s.setQueryTimeout(queryTimeoutSeconds);
        s.execute("BEGIN IMMEDIATE");
      }
    } else {
      c.setAutoCommit(false);
    }
  }

  private void commit(Connection c) throws SQLException {
    if (dialect == Dialect.SQLITE) {
      try (Statement s = c.createStatement()) {
        s.setQueryTimeout(queryTimeoutSeconds);
        s.execute("COMMIT");
      }
    } else {
      c.commit();
    }
  }

  private void rollbackQuietly(Connection c) {
    try {
      if (dialect == Dialect.SQLITE) {
        try (Statement s = c.createStatement()) {
          s.execute("ROLLBACK");
        }
      } else {
        c.rollback();
        c.setAutoCommit(true);
      }
    } catch (SQLException e) {
      LOG.debug("rollback failed: {}", e.toString());
    }
  }

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      LOG.debug("closing a connection failed: {}", e.toString());
    }
  }

  /**
   * Prepares a statement bounded by the statement timeout. PostgreSQL bounds every statement on the
   * server ({@code statement_timeout}, set per connection); SQLite through the driver.
   */
  PreparedStatement prepare(Connection c, String sql) throws SQLException {
    PreparedStatement statement = c.prepareStatement(sql);
    if (dialect == Dialect.SQLITE) {
      statement.setQueryTimeout(queryTimeoutSeconds);
    }
    return statement;
  }

  private static RuntimeException translate(SQLException e) {
    if (SqlErrors.isUniqueViolation(e)) {
      return new UniqueRace(e);
    }
    if (SqlErrors.isUnavailable(e)) {
      return new LedgerUnavailableException("ledger database unavailable: " + e.getMessage(), e);
    }
    if (SqlErrors.isBadValue(e)) {
      // The driver's text can quote SQL and internal names: log it, keep it out of the message
      // callers show.
      LOG.warn("ledger database refused a value: {}", e.getMessage());
      return new IllegalArgumentException(
          "the ledger database refused a value (SQLState " + e.getSQLState() + ")", e);
    }
    return new IllegalStateException("ledger database error: " + e.getMessage(), e);
  }

  @Override
  public void close() {
    dataSource.close();
  }
}

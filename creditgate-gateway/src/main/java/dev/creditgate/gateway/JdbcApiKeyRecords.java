package dev.creditgate.gateway;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.creditgate.ledger.LedgerUnavailableException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/**
 * API keys in a PostgreSQL or SQLite database, in the gateway's own table and migration history
 * ({@code flyway_gateway_history}), so the ledger's schema and the gateway's evolve apart. Every
 * statement has a {@value #QUERY_TIMEOUT_SECONDS}-second timeout.
 */
final class JdbcApiKeyRecords implements ApiKeyRecords {

  /** Seconds a key statement may take. */
  static final int QUERY_TIMEOUT_SECONDS = 5;

  /**
   * Connections of a pool opened by {@link #open}: a lookup is one indexed read, and unknown keys
   * are never remembered, so a flood of bogus keys waits for these and not for the ledger's.
   */
  static final int POOL_SIZE = 4;

  /** How long an operation of a pool opened by {@link #open} waits for a connection. */
  static final Duration CONNECTION_TIMEOUT = Duration.ofSeconds(2);

  private static final String COLUMNS =
      "id, key_prefix, kind, account_id, label, created_at, revoked_at";

  private final DataSource dataSource;

  /** The pool this opened and closes; null when the caller owns the data source. */
  private final HikariDataSource ownPool;

  /** Records in {@code dataSource}, which the caller owns and closes. */
  JdbcApiKeyRecords(DataSource dataSource) {
    this(Objects.requireNonNull(dataSource, "dataSource"), null);
  }

  private JdbcApiKeyRecords(DataSource dataSource, HikariDataSource ownPool) {
    this.dataSource = dataSource;
    this.ownPool = ownPool;
  }

  /**
   * Records in the database at {@code jdbcUrl} (the ledger's), through a small pool of their own
   * that {@link #close} closes. Opens even while the database is down; operations then fail. A
   * SQLite file must exist or its directory be there: the ledger, opened first, creates both.
   *
   * @throws IllegalArgumentException when the URL is neither {@code jdbc:postgresql:} nor {@code
   *     jdbc:sqlite:}
   */
  static JdbcApiKeyRecords open(String jdbcUrl) {
    HikariDataSource pool = openPool(jdbcUrl, "creditgate-api-keys", POOL_SIZE);
    return new JdbcApiKeyRecords(pool, pool);
  }

  /**
   * A pool of {@code size} connections to the ledger's database at {@code jdbcUrl}, for the
   * gateway's own tables: statements bounded by {@value #QUERY_TIMEOUT_SECONDS} s, {@link
   * #CONNECTION_TIMEOUT} to get a connection. Opens even while the database is down.
   *
   * @throws IllegalArgumentException when the URL is neither {@code jdbc:postgresql:} nor {@code
   *     jdbc:sqlite:}
   */
  static HikariDataSource openPool(String jdbcUrl, String poolName, int size) {
    Objects.requireNonNull(jdbcUrl, "jdbcUrl");
    HikariConfig config = new HikariConfig();
    config.setPoolName(poolName);
    config.setJdbcUrl(jdbcUrl);
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(1);
    config.setConnectionTimeout(CONNECTION_TIMEOUT.toMillis());
    config.setValidationTimeout(1000);
    config.setInitializationFailTimeout(-1);
    long statementMillis = QUERY_TIMEOUT_SECONDS * 1000L;
    if (jdbcUrl.startsWith("jdbc:postgresql:")) {
      // The server bounds every statement, the migration's too; the socket timeout is a backstop
      // should the server stop answering altogether.
      config.setConnectionInitSql("SET statement_timeout = " + statementMillis);
      config.addDataSourceProperty("socketTimeout", Long.toString(QUERY_TIMEOUT_SECONDS + 5));
      config.addDataSourceProperty("connectTimeout", Long.toString(CONNECTION_TIMEOUT.toSeconds()));
    } else if (jdbcUrl.startsWith("jdbc:sqlite:")) {
      // The ledger writes the same file: wait for its write lock rather than fail at once.
      config.addDataSourceProperty("journal_mode", "WAL");
      config.addDataSourceProperty("synchronous", "FULL");
      config.addDataSourceProperty("busy_timeout", Long.toString(statementMillis));
    } else {
      throw new IllegalArgumentException(
          "the gateway supports PostgreSQL and SQLite, but jdbcUrl starts with '"
              + jdbcUrl.substring(0, Math.min(jdbcUrl.length(), "jdbc:postgresql:".length()))
              + "'");
    }
    return new HikariDataSource(config);
  }

  DataSource dataSource() {
    return dataSource;
  }

  /**
   * Creates or updates the gateway's tables (API keys, admin tokens) in {@code dataSource}; safe to
   * run on every start.
   *
   * @throws LedgerUnavailableException when the database cannot be reached
   */
  static void migrate(DataSource dataSource) {
    String dialect;
    try (Connection c = dataSource.getConnection()) {
      String product = c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT);
      dialect =
          product.contains("postgres")
              ? "postgresql"
              : product.contains("sqlite") ? "sqlite" : null;
      if (dialect == null) {
        throw new IllegalArgumentException(
            "the gateway supports PostgreSQL and SQLite, but the database is " + product);
      }
    } catch (SQLException e) {
      throw new LedgerUnavailableException("cannot reach the database to migrate its tables", e);
    }
    Flyway.configure()
        .dataSource(dataSource)
        .locations("classpath:db/gateway/" + dialect)
        .table("flyway_gateway_history")
        .baselineOnMigrate(true)
        .baselineVersion("0")
        .load()
        .migrate();
  }

  @Override
  public void insert(ApiKey key, String keyHash) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO gateway_api_keys"
                    + " (id, key_hash, key_prefix, kind, account_id, label, created_at, revoked_at)"
                    + " VALUES (?, ?, ?, ?, ?, ?, ?, NULL)")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setString(1, key.id());
      ps.setString(2, keyHash);
      ps.setString(3, key.prefix());
      ps.setString(4, key.kind().name());
      if (key.accountId().isEmpty()) {
        ps.setNull(5, Types.VARCHAR);
      } else {
        ps.setString(5, key.accountId());
      }
      ps.setString(6, key.label());
      ps.setLong(7, key.createdAt().toEpochMilli());
      ps.executeUpdate();
    } catch (SQLException e) {
      throw unavailable("create an API key", e);
    }
  }

  @Override
  public Optional<ApiKey> findByHash(String keyHash) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT " + COLUMNS + ", key_hash FROM gateway_api_keys" + " WHERE key_hash = ?")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setString(1, keyHash);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        // The index finds the row; the constant-time comparison keeps timing from telling how
        // much of a guess matched.
        boolean same =
            MessageDigest.isEqual(
                keyHash.getBytes(StandardCharsets.US_ASCII),
                rs.getString("key_hash").trim().getBytes(StandardCharsets.US_ASCII));
        return same ? Optional.of(read(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw unavailable("check an API key", e);
    }
  }

  @Override
  public Optional<ApiKey> find(String id) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT " + COLUMNS + " FROM gateway_api_keys WHERE id = ?")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(read(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw unavailable("read an API key", e);
    }
  }

  @Override
  public List<ApiKey> list(String accountId) {
    String sql =
        "SELECT "
            + COLUMNS
            + " FROM gateway_api_keys"
            + (accountId == null ? "" : " WHERE account_id = ?")
            + " ORDER BY created_at, id";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      if (accountId != null) {
        ps.setString(1, accountId);
      }
      List<ApiKey> keys = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          keys.add(read(rs));
        }
      }
      return keys;
    } catch (SQLException e) {
      throw unavailable("list API keys", e);
    }
  }

  @Override
  public void revoke(String id, Instant at) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "UPDATE gateway_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setLong(1, at.toEpochMilli());
      ps.setString(2, id);
      ps.executeUpdate();
    } catch (SQLException e) {
      throw unavailable("revoke an API key", e);
    }
  }

  @Override
  public Map<String, Long> revokedSince(long fromMillis) {
    Map<String, Long> found = new HashMap<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT id, revoked_at FROM gateway_api_keys"
                    + " WHERE revoked_at IS NOT NULL AND revoked_at >= ?")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setLong(1, fromMillis);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found.put(rs.getString(1), rs.getLong(2));
        }
      }
    } catch (SQLException e) {
      throw unavailable("read revoked API keys", e);
    }
    return found;
  }

  @Override
  public void close() {
    if (ownPool != null) {
      ownPool.close();
    }
  }

  private static ApiKey read(ResultSet rs) throws SQLException {
    long revoked = rs.getLong("revoked_at");
    Instant revokedAt = rs.wasNull() ? null : Instant.ofEpochMilli(revoked);
    String account = rs.getString("account_id");
    return new ApiKey(
        rs.getString("id"),
        rs.getString("key_prefix"),
        ApiKey.Kind.valueOf(rs.getString("kind")),
        account == null ? "" : account,
        rs.getString("label"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        revokedAt);
  }

  static LedgerUnavailableException unavailable(String what, SQLException e) {
    return new LedgerUnavailableException("cannot " + what + ": " + e.getSQLState(), e);
  }
}

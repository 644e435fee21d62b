package dev.creditgate.gateway;

import com.zaxxer.hikari.HikariDataSource;
import dev.creditgate.InvalidArgumentException;
import dev.creditgate.ledger.LedgerUnavailableException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * Named admin tokens, each with a role: creation, authentication and revocation, in the ledger's
 * database ({@code gateway_admin_tokens}, migrated with the gateway's other tables).
 *
 * <p>A token is 32 random bytes behind {@link #SECRET_PREFIX}, shown once by {@link #create}; only
 * its SHA-256 is stored, as for API keys. Nothing is remembered in memory: every authentication is
 * one indexed read, so a revocation, by this process or any other sharing the database (the CLI,
 * another gateway), takes effect on the next request. Admin requests are few; the gateway limits
 * failed attempts per client address, so unknown tokens cannot turn into a flood of reads. Every
 * statement has a {@value ApiKeyStore#QUERY_TIMEOUT_SECONDS}-second timeout, and each operation
 * throws {@link LedgerUnavailableException} when the database cannot be reached in time.
 */
public final class AdminTokenStore implements AutoCloseable {

  /** The prefix of every admin token secret; API keys have another ({@code cgk_}). */
  public static final String SECRET_PREFIX = "cga_";

  public static final int MAX_NAME_LENGTH = 64;

  /** Lower-case letters, digits and {@code . _ @ -}, starting with a letter or digit. */
  public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._@-]{0,63}");

  /**
   * Names a token may not have: the actors of the bootstrap token ({@code admin}) and of the CLI
   * ({@code cli}), so that an entry's actor says which of them acted.
   */
  public static final Set<String> RESERVED_NAMES = Set.of("admin", "cli");

  /** Connections of the pool {@link #open} makes. */
  static final int POOL_SIZE = 2;

  private static final int SECRET_BYTES = 32;
  private static final int MAX_SECRET_LENGTH = 200;
  private static final String COLUMNS =
      "id, token_prefix, name, role, created_at, revoked_at FROM gateway_admin_tokens";

  private final DataSource dataSource;
  private final HikariDataSource ownPool;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  /** A token just created: {@code secret} is the only time it is shown. */
  public record CreatedToken(AdminToken token, String secret) {
    @Override
    public String toString() {
      return "CreatedToken[" + token + ", secret=***]";
    }
  }

  /**
   * Tokens in {@code dataSource}, which the caller owns and closes; its tables must be migrated
   * ({@link ApiKeyStore#migrate(DataSource)}).
   */
  public AdminTokenStore(DataSource dataSource, Clock clock) {
    this(Objects.requireNonNull(dataSource, "dataSource"), null, clock);
  }

  private AdminTokenStore(DataSource dataSource, HikariDataSource ownPool, Clock clock) {
    this.dataSource = dataSource;
    this.ownPool = ownPool;
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Tokens in the database at {@code jdbcUrl} (the ledger's), through a pool of {@value #POOL_SIZE}
   * connections of their own that {@link #close} closes, so that admin requests neither wait for
   * nor take the ledger's. Migrates the gateway's tables first.
   *
   * @throws IllegalArgumentException when the URL names another kind of database
   * @throws LedgerUnavailableException when the database cannot be reached to migrate
   */
  public static AdminTokenStore open(String jdbcUrl, Clock clock) {
    return open(jdbcUrl, clock, true);
  }

  /** As {@link #open(String, Clock)}, migrating only when {@code migrate} (already done else). */
  static AdminTokenStore open(String jdbcUrl, Clock clock, boolean migrate) {
    HikariDataSource pool =
        JdbcApiKeyRecords.openPool(jdbcUrl, "creditgate-admin-tokens", POOL_SIZE);
    try {
      if (migrate) {
        JdbcApiKeyRecords.migrate(pool);
      }
      return new AdminTokenStore(pool, pool, clock);
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
  }

  /**
   * Creates a token named {@code name} with {@code role}.
   *
   * @throws InvalidArgumentException naming {@code name} when it is not 1-{@value #MAX_NAME_LENGTH}
   *     characters of {@link #NAME} or is reserved
   * @throws AdminTokenNameTakenException when a token not revoked has the name
   */
  public CreatedToken create(String name, AdminToken.Role role) {
    Objects.requireNonNull(role, "role");
    String clean = requireName(name);
    byte[] bytes = new byte[SECRET_BYTES];
    random.nextBytes(bytes);
    String secret = SECRET_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    byte[] idBytes = new byte[8];
    random.nextBytes(idBytes);
    AdminToken token =
        new AdminToken(
            "atk_" + HexFormat.of().formatHex(idBytes),
            secret.substring(0, SECRET_PREFIX.length() + 6),
            clean,
            role,
            clock.instant(),
            null);
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO gateway_admin_tokens"
                    + " (id, token_hash, token_prefix, name, role, created_at, revoked_at)"
                    + " VALUES (?, ?, ?, ?, ?, ?, NULL)")) {
      ps.setQueryTimeout(JdbcApiKeyRecords.QUERY_TIMEOUT_SECONDS);
      ps.setString(1, token.id());
      ps.setString(2, ApiKeyStore.hash(secret));
      ps.setString(3, token.prefix());
      ps.setString(4, token.name());
      ps.setString(5, role.name());
      ps.setLong(6, token.createdAt().toEpochMilli());
      ps.executeUpdate();
    } catch (SQLException e) {
      // The index on the names of tokens not revoked decides, so two concurrent creations of one
      // name cannot both succeed.
      if (isUniqueViolation(e)) {
        throw new AdminTokenNameTakenException(clean);
      }
      throw JdbcApiKeyRecords.unavailable("create an admin token", e);
    }
    return new CreatedToken(token, secret);
  }

  /**
   * The name, trimmed, when it is one a token may have.
   *
   * @throws InvalidArgumentException naming {@code name} otherwise
   */
  public static String requireName(String name) {
    String clean = name == null ? "" : name.trim();
    if (!NAME.matcher(clean).matches()) {
      throw new InvalidArgumentException(
          "name",
          "name must be 1-"
              + MAX_NAME_LENGTH
              + " characters of a-z, 0-9 and . _ @ -, starting with a letter or digit, but was '"
              + dev.creditgate.Checks.abbreviate(clean, 80)
              + "'");
    }
    if (RESERVED_NAMES.contains(clean)) {
      throw new InvalidArgumentException(
          "name", "name '" + clean + "' is reserved (the bootstrap token's or the CLI's actor)");
    }
    return clean;
  }

  /** Whether {@code secret} has the shape of an admin token (and may be worth a read). */
  public static boolean wellFormed(String secret) {
    return secret != null
        && secret.startsWith(SECRET_PREFIX)
        && secret.length() <= MAX_SECRET_LENGTH;
  }

  /** The valid (not revoked) token whose secret is {@code secret}, if any; one indexed read. */
  public Optional<AdminToken> authenticate(String secret) {
    if (!wellFormed(secret)) {
      return Optional.empty();
    }
    // The index finds the row by the full hash, so a hit is an exact match, and timing tells no
    // more than the index lookup would.
    return one(
        "SELECT " + COLUMNS + " WHERE token_hash = ? AND revoked_at IS NULL",
        ApiKeyStore.hash(secret),
        "check an admin token");
  }

  public Optional<AdminToken> find(String id) {
    return one("SELECT " + COLUMNS + " WHERE id = ?", id, "read an admin token");
  }

  /** Every token, revoked ones too, oldest first, without secrets. */
  public List<AdminToken> list() {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT " + COLUMNS + " ORDER BY created_at, id")) {
      ps.setQueryTimeout(JdbcApiKeyRecords.QUERY_TIMEOUT_SECONDS);
      List<AdminToken> tokens = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          tokens.add(read(rs));
        }
      }
      return tokens;
    } catch (SQLException e) {
      throw JdbcApiKeyRecords.unavailable("list admin tokens", e);
    }
  }

  /**
   * Revokes the token: it fails from its next request on, in every process. Returns it, or empty
   * when there is no such token. Revoking twice keeps the first time.
   */
  public Optional<AdminToken> revoke(String id) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "UPDATE gateway_admin_tokens SET revoked_at = ?"
                    + " WHERE id = ? AND revoked_at IS NULL")) {
      ps.setQueryTimeout(JdbcApiKeyRecords.QUERY_TIMEOUT_SECONDS);
      ps.setLong(1, clock.millis());
      ps.setString(2, id);
      ps.executeUpdate();
    } catch (SQLException e) {
      throw JdbcApiKeyRecords.unavailable("revoke an admin token", e);
    }
    return find(id);
  }

  private Optional<AdminToken> one(String sql, String value, String what) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setQueryTimeout(JdbcApiKeyRecords.QUERY_TIMEOUT_SECONDS);
      ps.setString(1, value);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(read(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw JdbcApiKeyRecords.unavailable(what, e);
    }
  }

  private static AdminToken read(ResultSet rs) throws SQLException {
    long revoked = rs.getLong("revoked_at");
    Instant revokedAt = rs.wasNull() ? null : Instant.ofEpochMilli(revoked);
    return new AdminToken(
        rs.getString("id"),
        rs.getString("token_prefix"),
        rs.getString("name"),
        AdminToken.Role.valueOf(rs.getString("role")),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        revokedAt);
  }

  /** PostgreSQL's unique_violation, or SQLite's UNIQUE constraint. */
  private static boolean isUniqueViolation(SQLException e) {
    return "23505".equals(e.getSQLState())
        || (e.getMessage() != null && e.getMessage().contains("UNIQUE constraint failed"));
  }

  /** Closes the pool {@link #open} made; nothing for a caller's data source. */
  @Override
  public void close() {
    if (ownPool != null) {
      ownPool.close();
    }
  }
}

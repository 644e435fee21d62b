package dev.creditgate.gateway;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.BillingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/**
 * API keys in the ledger's database, in the gateway's own table and migration history
 * ({@code flyway_gateway_history}), so the ledger's schema and the gateway's evolve apart.
 *
 * <p>A key is 32 random bytes, shown once by {@link #create}; only its SHA-256 is stored. SHA-256
 * without salt or stretching suffices because the secret is random and high-entropy, not a
 * password. Authentication looks the hash up and then compares it in constant time.
 *
 * <p>A valid key found in the database is remembered (reading the key table on every request cost
 * a database round trip per call: with a key per account, about one call in two at 1,000 calls/s
 * over 1,000 accounts). Revoking through this store forgets the key at once, so in this process a
 * revoked key fails on its next request. Revocations by another process sharing the database (a
 * second gateway, the CLI's {@code key revoke}) are found by a sweep: one query for the keys
 * revoked lately, run by a call at most every half {@link #DEFAULT_CACHE_TTL}; a remembered key is
 * trusted only while the last sweep started within the TTL, so a revocation takes effect within it
 * (provided the clocks of the processes agree within {@link #SWEEP_CLOCK_MARGIN}; beyond that,
 * a remembered key is read again after {@link #REMEMBERED_AT_MOST} anyway). While the database cannot
 * be read, a key last seen valid within {@link #OUTAGE_TTL} keeps working (a revocation this process
 * has not yet seen applies once the database is back); an unknown key then gets the outage error.
 * Unknown and revoked keys are not remembered, so a new key works at once and guessing fills no
 * memory.
 */
public final class ApiKeyStore {

  /** The prefix of every key secret, so leaked keys are recognisable by secret scanners. */
  public static final String SECRET_PREFIX = "cgk_";
  /** Seconds a key query may take. */
  public static final int QUERY_TIMEOUT_SECONDS = 5;

  /** The bound within which a revocation made by another process takes effect. */
  public static final Duration DEFAULT_CACHE_TTL = Duration.ofSeconds(2);
  /** A remembered valid key is read from the database again after this long, whatever the sweeps found. */
  static final Duration REMEMBERED_AT_MOST = Duration.ofMinutes(5);
  /**
   * A sweep reads the keys revoked since the previous sweep started, less this margin: for clocks
   * of gateways that disagree, and for a revocation committed a while after its time was taken.
   */
  static final Duration SWEEP_CLOCK_MARGIN = Duration.ofMinutes(1);
  /**
   * How long a key last seen valid keeps working while the database cannot be read: the ledger
   * spools charges and the guard fails open during an outage, so authentication must not be the one
   * part that refuses every call.
   */
  public static final Duration OUTAGE_TTL = Duration.ofHours(1);
  /** After a failed read, how long authentication answers from memory before trying the database again. */
  static final Duration OUTAGE_RETRY = Duration.ofSeconds(1);
  /**
   * While one call retries the database in an outage, how long the others answer from memory at
   * most without retrying themselves (the retry itself sets the next time when it ends).
   */
  static final Duration PROBE_CLAIM = Duration.ofMinutes(1);
  /** At most this many valid keys are remembered. */
  public static final long DEFAULT_CACHE_SIZE = 100_000;

  private static final int SECRET_BYTES = 32;
  private static final String COLUMNS = "id, key_prefix, kind, account_id, label, created_at, revoked_at";

  private final DataSource dataSource;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  /** Valid keys by secret hash; null when caching is off (TTL zero). */
  private final Cache<String, ApiKey> valid;
  /** Keys last seen valid, for database outages only; null when caching is off. */
  private final Cache<String, ApiKey> lastValid;
  private final Ticker ticker;
  /** Ticker reading before which the database is not tried again after a failure. */
  private final AtomicLong databaseRetryAt = new AtomicLong(Long.MIN_VALUE);
  /** Bumped by every revocation, so a lookup that raced with one does not cache what it read before it. */
  private final AtomicLong revocations = new AtomicLong();
  /** The TTL in ticker nanos: remembered keys are trusted while the last sweep started within it. */
  private final long trustNanos;
  /** Ticker reading at the start of the last successful sweep, or {@link Long#MIN_VALUE} before the first. */
  private volatile long sweptAt = Long.MIN_VALUE;
  /** Set while a call sweeps, so that one call at a time does. */
  private final java.util.concurrent.atomic.AtomicBoolean sweeping = new java.util.concurrent.atomic.AtomicBoolean();
  /** Epoch millis: the next sweep reads keys revoked from this time on, less the margin. Guarded by {@link #sweeping}. */
  private long sweepFromMillis;
  /** Revoked key ids the sweeps have already acted on, with their revocation time. Guarded by {@link #sweeping}. */
  private final java.util.Map<String, Long> sweptRevocations = new java.util.HashMap<>();

  /** A key just created: {@code secret} is the only time the key is shown. */
  public record CreatedKey(ApiKey key, String secret) {
    @Override
    public String toString() {
      return "CreatedKey[" + key + ", secret=***]";
    }
  }

  /** A store remembering valid keys for {@link #DEFAULT_CACHE_TTL}. */
  public ApiKeyStore(DataSource dataSource, Clock clock) {
    this(dataSource, clock, DEFAULT_CACHE_TTL, Ticker.systemTicker());
  }

  /**
   * A store remembering valid keys for {@code cacheTtl} ({@link Duration#ZERO}: every
   * authentication reads the database).
   *
   * @throws IllegalArgumentException when {@code cacheTtl} is negative
   */
  public ApiKeyStore(DataSource dataSource, Clock clock, Duration cacheTtl, Ticker ticker) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.clock = Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(cacheTtl, "cacheTtl");
    Objects.requireNonNull(ticker, "ticker");
    if (cacheTtl.isNegative()) {
      throw new IllegalArgumentException("cacheTtl must not be negative, but was " + cacheTtl);
    }
    this.trustNanos = cacheTtl.toNanos();
    this.sweepFromMillis = clock.millis();
    this.valid = cacheTtl.isZero() ? null : Caffeine.newBuilder()
        .expireAfterWrite(cacheTtl.compareTo(REMEMBERED_AT_MOST) > 0 ? cacheTtl : REMEMBERED_AT_MOST)
        .maximumSize(DEFAULT_CACHE_SIZE)
        .ticker(ticker)
        .build();
    this.lastValid = cacheTtl.isZero() ? null : Caffeine.newBuilder()
        .expireAfterWrite(OUTAGE_TTL)
        .maximumSize(DEFAULT_CACHE_SIZE)
        .ticker(ticker)
        .build();
    this.ticker = ticker;
  }

  /** Creates or updates the gateway's tables; safe to run on every start. */
  public static void migrate(DataSource dataSource) {
    String dialect;
    try (Connection c = dataSource.getConnection()) {
      String product = c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT);
      dialect = product.contains("postgres") ? "postgresql" : product.contains("sqlite") ? "sqlite" : null;
      if (dialect == null) {
        throw new IllegalArgumentException("the gateway supports PostgreSQL and SQLite, but the database is " + product);
      }
    } catch (SQLException e) {
      throw new dev.creditgate.ledger.LedgerUnavailableException("cannot reach the database to migrate API keys", e);
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

  /**
   * Creates a key. A USER key needs a valid account id; a SERVICE key must have none.
   *
   * @throws IllegalArgumentException naming the bad value
   */
  public CreatedKey create(ApiKey.Kind kind, String accountId, String label) {
    Objects.requireNonNull(kind, "kind");
    String account = accountId == null ? "" : accountId.trim();
    if (kind == ApiKey.Kind.USER) {
      BillingContext.requireValidAccountId(account);
    } else if (!account.isEmpty()) {
      throw new IllegalArgumentException("a SERVICE key names its account per request, so accountId must be empty,"
          + " but was '" + account + "'");
    }
    String cleanLabel = label == null ? "" : label.trim();
    if (cleanLabel.length() > 200) {
      throw new IllegalArgumentException("label must be at most 200 characters, but was " + cleanLabel.length());
    }
    byte[] bytes = new byte[SECRET_BYTES];
    random.nextBytes(bytes);
    String secret = SECRET_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    byte[] idBytes = new byte[8];
    random.nextBytes(idBytes);
    String id = "key_" + HexFormat.of().formatHex(idBytes);
    String prefix = secret.substring(0, SECRET_PREFIX.length() + 6);
    Instant now = clock.instant();
    try (Connection c = dataSource.getConnection();
         PreparedStatement ps = c.prepareStatement("INSERT INTO gateway_api_keys"
             + " (id, key_hash, key_prefix, kind, account_id, label, created_at, revoked_at)"
             + " VALUES (?, ?, ?, ?, ?, ?, ?, NULL)")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setString(1, id);
      ps.setString(2, hash(secret));
      ps.setString(3, prefix);
      ps.setString(4, kind.name());
      if (account.isEmpty()) {
        ps.setNull(5, Types.VARCHAR);
      } else {
        ps.setString(5, account);
      }
      ps.setString(6, cleanLabel);
      ps.setLong(7, now.toEpochMilli());
      ps.executeUpdate();
    } catch (SQLException e) {
      throw unavailable("create an API key", e);
    }
    return new CreatedKey(new ApiKey(id, prefix, kind, account, cleanLabel, now, null), secret);
  }

  /** The valid (not revoked) key whose secret is {@code secret}, if any. */
  public Optional<ApiKey> authenticate(String secret) {
    if (secret == null || !secret.startsWith(SECRET_PREFIX) || secret.length() > 200) {
      return Optional.empty();
    }
    String presented = hash(secret);
    if (valid != null) {
      // The cache is keyed by the full hash, so a hit is an exact match; no timing is revealed
      // beyond what the hash lookup in the database index would.
      ApiKey cached = valid.getIfPresent(presented);
      if (cached != null && revocationsSeen()) {
        // Looked up again: a sweep run by this call may just have forgotten it.
        cached = valid.getIfPresent(presented);
        if (cached != null) {
          return Optional.of(cached);
        }
      }
    }
    ApiKey known = lastValid == null ? null : lastValid.getIfPresent(presented);
    long retryAt = databaseRetryAt.get();
    long claim = Long.MIN_VALUE;
    if (known != null && retryAt != Long.MIN_VALUE) {
      // The database failed a moment ago: answer from memory instead of waiting on it again. Once
      // a retry is due, one call claims it and waits for the database; the others keep answering
      // from memory meanwhile (else every call in that window waited the connection timeout).
      long now = ticker.read();
      claim = now + PROBE_CLAIM.toNanos();
      if (now - retryAt < 0 || !databaseRetryAt.compareAndSet(retryAt, claim)) {
        return Optional.of(known);
      }
    }
    long revocationsBefore = revocations.get();
    Optional<ApiKey> found;
    boolean outage = false;
    try {
      found = lookup(presented);
    } catch (dev.creditgate.ledger.LedgerUnavailableException e) {
      outage = true;
      if (known != null) {
        return Optional.of(known);
      }
      throw e;
    } finally {
      long next = ticker.read() + OUTAGE_RETRY.toNanos();
      if (claim != Long.MIN_VALUE) {
        // This call held the retry: it sets the next one, unless a later success ended the outage.
        databaseRetryAt.compareAndSet(claim, next);
      } else if (outage) {
        // A read that failed without the claim (an unknown key, or the first failure) starts or
        // extends the outage, but never shortens a claim held by another call.
        extendOutage(next);
      }
    }
    databaseRetryAt.set(Long.MIN_VALUE);
    if (valid != null) {
      if (found.isPresent()) {
        valid.put(presented, found.get());
        lastValid.put(presented, found.get());
      } else {
        lastValid.invalidate(presented);
      }
      if (revocations.get() != revocationsBefore) {
        // A revocation ran while the row was read: what was read may be older than it.
        valid.invalidate(presented);
        lastValid.invalidate(presented);
      }
    }
    return found;
  }

  /**
   * Whether remembered keys can be trusted: the last sweep for revocations made elsewhere started
   * within the TTL. Sweeps when one is due (every half TTL) and no other call is sweeping. During a
   * known outage it does not sweep: the caller then takes the path that answers from memory.
   */
  private boolean revocationsSeen() {
    long now = ticker.read();
    long swept = sweptAt;
    boolean known = swept != Long.MIN_VALUE;
    if (known && now - swept < trustNanos / 2) {
      return true;
    }
    if (databaseRetryAt.get() == Long.MIN_VALUE && sweeping.compareAndSet(false, true)) {
      try {
        sweep(now);
      } catch (dev.creditgate.ledger.LedgerUnavailableException e) {
        extendOutage(ticker.read() + OUTAGE_RETRY.toNanos());
      } finally {
        sweeping.set(false);
      }
      swept = sweptAt;
      known = swept != Long.MIN_VALUE;
    }
    return known && ticker.read() - swept <= trustNanos;
  }

  /**
   * A failed read starts or extends the outage until {@code next}, but never shortens a later
   * retry time (a claim held by another call).
   */
  private void extendOutage(long next) {
    databaseRetryAt.updateAndGet(current -> current != Long.MIN_VALUE && current - next > 0 ? current : next);
  }

  /** Reads the keys revoked lately and forgets those remembered. Runs under {@link #sweeping}. */
  private void sweep(long startedAt) {
    long fromMillis = sweepFromMillis;
    long nextFromMillis = clock.millis();
    java.util.Map<String, Long> found = new java.util.HashMap<>();
    try (Connection c = dataSource.getConnection();
         PreparedStatement ps = c.prepareStatement("SELECT id, revoked_at FROM gateway_api_keys"
             + " WHERE revoked_at IS NOT NULL AND revoked_at >= ?")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setLong(1, fromMillis - SWEEP_CLOCK_MARGIN.toMillis());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found.put(rs.getString(1), rs.getLong(2));
        }
      }
    } catch (SQLException e) {
      throw unavailable("read revoked API keys", e);
    }
    java.util.Set<String> fresh = new java.util.HashSet<>();
    for (var e : found.entrySet()) {
      if (sweptRevocations.putIfAbsent(e.getKey(), e.getValue()) == null) {
        fresh.add(e.getKey());
      }
    }
    if (!fresh.isEmpty()) {
      revocations.incrementAndGet();
      valid.asMap().values().removeIf(k -> fresh.contains(k.id()));
      lastValid.asMap().values().removeIf(k -> fresh.contains(k.id()));
    }
    // What the next sweep reads again need not be remembered as done.
    long forgetBefore = nextFromMillis - SWEEP_CLOCK_MARGIN.toMillis();
    sweptRevocations.values().removeIf(revokedAt -> revokedAt < forgetBefore);
    sweepFromMillis = nextFromMillis;
    sweptAt = startedAt;
  }

  private Optional<ApiKey> lookup(String presented) {
    try (Connection c = dataSource.getConnection();
         PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + ", key_hash FROM gateway_api_keys"
             + " WHERE key_hash = ?")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setString(1, presented);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        // The index finds the row; the constant-time comparison keeps timing from telling how
        // much of a guess matched.
        boolean same = MessageDigest.isEqual(presented.getBytes(StandardCharsets.US_ASCII),
            rs.getString("key_hash").trim().getBytes(StandardCharsets.US_ASCII));
        ApiKey key = read(rs);
        return same && !key.revoked() ? Optional.of(key) : Optional.empty();
      }
    } catch (SQLException e) {
      throw unavailable("check an API key", e);
    }
  }

  /** Keys of {@code accountId} (all keys when null), oldest first, without secrets. */
  public List<ApiKey> list(String accountId) {
    String sql = "SELECT " + COLUMNS + " FROM gateway_api_keys"
        + (accountId == null ? "" : " WHERE account_id = ?") + " ORDER BY created_at, id";
    try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
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

  public Optional<ApiKey> find(String id) {
    try (Connection c = dataSource.getConnection();
         PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM gateway_api_keys WHERE id = ?")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(read(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw unavailable("read an API key", e);
    }
  }

  /** Revokes the key; returns it, or empty when there is no such key. Revoking twice keeps the first time. */
  public Optional<ApiKey> revoke(String id) {
    try {
      return revokeInDatabase(id);
    } finally {
      // After the update (committed or not): a lookup that started before it cannot cache its
      // stale row, and one that starts after reads the revocation.
      revocations.incrementAndGet();
      if (valid != null) {
        valid.asMap().values().removeIf(k -> k.id().equals(id));
        lastValid.asMap().values().removeIf(k -> k.id().equals(id));
      }
    }
  }

  private Optional<ApiKey> revokeInDatabase(String id) {
    try (Connection c = dataSource.getConnection();
         PreparedStatement ps = c.prepareStatement(
             "UPDATE gateway_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")) {
      ps.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
      ps.setLong(1, clock.instant().toEpochMilli());
      ps.setString(2, id);
      ps.executeUpdate();
    } catch (SQLException e) {
      throw unavailable("revoke an API key", e);
    }
    return find(id);
  }

  private static ApiKey read(ResultSet rs) throws SQLException {
    long revoked = rs.getLong("revoked_at");
    Instant revokedAt = rs.wasNull() ? null : Instant.ofEpochMilli(revoked);
    String account = rs.getString("account_id");
    return new ApiKey(rs.getString("id"), rs.getString("key_prefix"), ApiKey.Kind.valueOf(rs.getString("kind")),
        account == null ? "" : account, rs.getString("label"), Instant.ofEpochMilli(rs.getLong("created_at")),
        revokedAt);
  }

  static String hash(String secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }

  private static RuntimeException unavailable(String what, SQLException e) {
    return new dev.creditgate.ledger.LedgerUnavailableException("cannot " + what + ": " + e.getSQLState(), e);
  }
}

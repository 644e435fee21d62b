package dev.creditgate.gateway;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.BillingContext;
import dev.creditgate.ledger.LedgerUnavailableException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import javax.sql.DataSource;

/**
 * API keys: creation, authentication and revocation, over {@link ApiKeyRecords} (the ledger's
 * database, in the gateway's own table and migration history, so the ledger's schema and the
 * gateway's evolve apart). {@link #open} gives the keys a small connection pool of their own, so
 * that requests with unknown keys, each a database read, cannot take the ledger's connections.
 *
 * <p>A key is 32 random bytes, shown once by {@link #create}; only its SHA-256 is stored. SHA-256
 * without salt or stretching suffices because the secret is random and high-entropy, not a
 * password. Authentication looks the hash up and then compares it in constant time.
 *
 * <p>A valid key found in the database is remembered (reading the key table on every request cost a
 * database round trip per call: with a key per account, about one call in two at 1,000 calls/s over
 * 1,000 accounts). Revoking through this store forgets the key at once, so in this process a
 * revoked key fails on its next request. Revocations by another process sharing the database (a
 * second gateway, the CLI's {@code key revoke}) are found by a sweep: one query for the keys
 * revoked lately, run by a call at most every half {@link #DEFAULT_CACHE_TTL}; a remembered key is
 * trusted only while the last sweep started within the TTL, so a revocation takes effect within it
 * (provided the clocks of the processes agree within {@link #SWEEP_CLOCK_MARGIN}; beyond that, a
 * remembered key is read again after {@link #REMEMBERED_AT_MOST} anyway). While the database cannot
 * be read, a key last seen valid within {@link #OUTAGE_TTL} keeps working (a revocation this
 * process has not yet seen applies once the database is back); an unknown key then gets the outage
 * error.
 *
 * <p>A hash the database did not know (or knew revoked) is remembered as not valid for {@link
 * #UNKNOWN_TTL}, at most {@link #UNKNOWN_CACHE_SIZE} of them, so a client that repeats a wrong key
 * costs one read per few seconds, not one per request. A key created later cannot be among them
 * (its secret did not exist before); {@link #create} forgets its hash here anyway, so a new key
 * works at once. Distinct guesses each still cost a read: the gateway limits those per client
 * address.
 */
public final class ApiKeyStore implements AutoCloseable {

  /** The prefix of every key secret, so leaked keys are recognisable by secret scanners. */
  public static final String SECRET_PREFIX = "cgk_";

  /** Seconds a key query may take. */
  public static final int QUERY_TIMEOUT_SECONDS = JdbcApiKeyRecords.QUERY_TIMEOUT_SECONDS;

  /** The bound within which a revocation made by another process takes effect. */
  public static final Duration DEFAULT_CACHE_TTL = Duration.ofSeconds(2);

  /**
   * A remembered valid key is read from the database again after this long, whatever the sweeps
   * found.
   */
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

  /**
   * After a failed read, how long authentication answers from memory before trying the database
   * again.
   */
  static final Duration OUTAGE_RETRY = Duration.ofSeconds(1);

  /**
   * While one call retries the database in an outage, how long the others answer from memory at
   * most without retrying themselves (the retry itself sets the next time when it ends).
   */
  static final Duration PROBE_CLAIM = Duration.ofMinutes(1);

  /** At most this many valid keys are remembered. */
  public static final long DEFAULT_CACHE_SIZE = 100_000;

  /** How long a hash found not valid (unknown or revoked) is answered from memory. */
  public static final Duration UNKNOWN_TTL = Duration.ofSeconds(5);

  /** At most this many hashes found not valid are remembered (about 200 bytes each). */
  static final long UNKNOWN_CACHE_SIZE = 10_000;

  private static final int SECRET_BYTES = 32;

  private final ApiKeyRecords records;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  /** Valid keys by secret hash; null when caching is off (TTL zero). */
  private final Cache<String, ApiKey> valid;

  /** Keys last seen valid, for database outages only; null when caching is off. */
  private final Cache<String, ApiKey> lastValid;

  /** Hashes the database last found not valid; null when caching is off. */
  private final Cache<String, Boolean> notValid;

  /** Reads of a key by its hash. */
  private final LongAdder keyReads = new LongAdder();

  private final Ticker ticker;

  /** Ticker reading before which the database is not tried again after a failure. */
  private final AtomicLong databaseRetryAt = new AtomicLong(Long.MIN_VALUE);

  /**
   * Bumped by every revocation, so a lookup that raced with one does not cache what it read before
   * it.
   */
  private final AtomicLong revocations = new AtomicLong();

  /**
   * The TTL in ticker nanos: remembered keys are trusted while the last sweep started within it.
   */
  private final long trustNanos;

  /**
   * Ticker reading at the start of the last successful sweep, or {@link Long#MIN_VALUE} before the
   * first.
   */
  private volatile long sweptAt = Long.MIN_VALUE;

  /** Set while a call sweeps, so that one call at a time does. */
  private final AtomicBoolean sweeping = new AtomicBoolean();

  /**
   * Epoch millis: the next sweep reads keys revoked from this time on, less the margin. Guarded by
   * {@link #sweeping}.
   */
  private long sweepFromMillis;

  /**
   * Revoked key ids the sweeps have already acted on, with their revocation time. Guarded by {@link
   * #sweeping}.
   */
  private final Map<String, Long> sweptRevocations = new HashMap<>();

  /** A key just created: {@code secret} is the only time the key is shown. */
  public record CreatedKey(ApiKey key, String secret) {
    @Override
    public String toString() {
      return "CreatedKey[" + key + ", secret=***]";
    }
  }

  /**
   * A store of the keys in the database at {@code jdbcUrl} (the ledger's, PostgreSQL or SQLite),
   * read through a pool of its own that {@link #close} closes, remembering valid keys for {@link
   * #DEFAULT_CACHE_TTL}. Creates or updates the key table first. Open the ledger before: it creates
   * a SQLite file's directory.
   *
   * @throws IllegalArgumentException when the URL names another kind of database
   * @throws LedgerUnavailableException when the database cannot be reached to migrate
   */
  public static ApiKeyStore open(String jdbcUrl, Clock clock) {
    JdbcApiKeyRecords records = JdbcApiKeyRecords.open(jdbcUrl);
    try {
      JdbcApiKeyRecords.migrate(records.dataSource());
      return new ApiKeyStore(records, clock, DEFAULT_CACHE_TTL, Ticker.systemTicker());
    } catch (RuntimeException e) {
      records.close();
      throw e;
    }
  }

  /**
   * A store of the keys in {@code dataSource}, which the caller owns and closes, remembering valid
   * keys for {@link #DEFAULT_CACHE_TTL}. Its queries share that pool: a server should prefer {@link
   * #open}.
   */
  public ApiKeyStore(DataSource dataSource, Clock clock) {
    this(dataSource, clock, DEFAULT_CACHE_TTL, Ticker.systemTicker());
  }

  /**
   * A store of the keys in {@code dataSource}, which the caller owns and closes, remembering valid
   * keys for {@code cacheTtl} ({@link Duration#ZERO}: every authentication reads the database).
   *
   * @throws IllegalArgumentException when {@code cacheTtl} is negative
   */
  public ApiKeyStore(DataSource dataSource, Clock clock, Duration cacheTtl, Ticker ticker) {
    this(new JdbcApiKeyRecords(dataSource), clock, cacheTtl, ticker);
  }

  /**
   * A store of the keys in {@code records}, which {@link #close} closes, remembering valid keys for
   * {@code cacheTtl} ({@link Duration#ZERO}: every authentication reads the records).
   *
   * @throws IllegalArgumentException when {@code cacheTtl} is negative
   */
  public ApiKeyStore(ApiKeyRecords records, Clock clock, Duration cacheTtl, Ticker ticker) {
    this.records = Objects.requireNonNull(records, "records");
    this.clock = Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(cacheTtl, "cacheTtl");
    Objects.requireNonNull(ticker, "ticker");
    if (cacheTtl.isNegative()) {
      throw new IllegalArgumentException("cacheTtl must not be negative, but was " + cacheTtl);
    }
    this.trustNanos = cacheTtl.toNanos();
    this.sweepFromMillis = clock.millis();
    this.valid =
        cacheTtl.isZero()
            ? null
            : Caffeine.newBuilder()
                .expireAfterWrite(
                    cacheTtl.compareTo(REMEMBERED_AT_MOST) > 0 ? cacheTtl : REMEMBERED_AT_MOST)
                .maximumSize(DEFAULT_CACHE_SIZE)
                .ticker(ticker)
                .build();
    this.lastValid =
        cacheTtl.isZero()
            ? null
            : Caffeine.newBuilder()
                .expireAfterWrite(OUTAGE_TTL)
                .maximumSize(DEFAULT_CACHE_SIZE)
                .ticker(ticker)
                .build();
    this.notValid =
        cacheTtl.isZero()
            ? null
            : Caffeine.newBuilder()
                .expireAfterWrite(UNKNOWN_TTL)
                .maximumSize(UNKNOWN_CACHE_SIZE)
                .ticker(ticker)
                .build();
    this.ticker = ticker;
  }

  /**
   * Creates or updates the gateway's tables in {@code dataSource}; safe to run on every start.
   *
   * @throws LedgerUnavailableException when the database cannot be reached
   */
  public static void migrate(DataSource dataSource) {
    JdbcApiKeyRecords.migrate(dataSource);
  }

  /**
   * Creates or updates the gateway's tables in the database at {@code jdbcUrl}, through a pool
   * opened for it and closed before this returns.
   *
   * @throws LedgerUnavailableException when the database cannot be reached
   */
  public static void migrate(String jdbcUrl) {
    try (JdbcApiKeyRecords records = JdbcApiKeyRecords.open(jdbcUrl)) {
      JdbcApiKeyRecords.migrate(records.dataSource());
    }
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
      throw new IllegalArgumentException(
          "a SERVICE key names its account per request, so accountId must be empty,"
              + " but was '"
              + account
              + "'");
    }
    String cleanLabel = label == null ? "" : label.trim();
    if (cleanLabel.length() > 200) {
      throw new IllegalArgumentException(
          "label must be at most 200 characters, but was " + cleanLabel.length());
    }
    byte[] bytes = new byte[SECRET_BYTES];
    random.nextBytes(bytes);
    String secret = SECRET_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    byte[] idBytes = new byte[8];
    random.nextBytes(idBytes);
    String id = "key_" + HexFormat.of().formatHex(idBytes);
    String prefix = secret.substring(0, SECRET_PREFIX.length() + 6);
    Instant now = clock.instant();
    ApiKey key = new ApiKey(id, prefix, kind, account, cleanLabel, now, null);
    String keyHash = hash(secret);
    records.insert(key, keyHash);
    if (notValid != null) {
      notValid.invalidate(keyHash);
    }
    return new CreatedKey(key, secret);
  }

  /**
   * The valid key whose secret is {@code secret} when this store remembers it and may trust that
   * memory now, answered without reading the key; empty otherwise, which says nothing of the key.
   */
  public Optional<ApiKey> remembered(String secret) {
    if (!wellFormed(secret)) {
      return Optional.empty();
    }
    return Optional.ofNullable(fromMemory(hash(secret)));
  }

  /** Reads of a key by its hash so far (sweeps not counted), for the metrics and tests. */
  public long keyReads() {
    return keyReads.sum();
  }

  private static boolean wellFormed(String secret) {
    return secret != null && secret.startsWith(SECRET_PREFIX) && secret.length() <= 200;
  }

  /** The remembered valid key of {@code presented}, when remembered and trusted now. */
  private ApiKey fromMemory(String presented) {
    if (valid == null) {
      return null;
    }
    // The cache is keyed by the full hash, so a hit is an exact match; no timing is revealed
    // beyond what the hash lookup in the database index would.
    ApiKey cached = valid.getIfPresent(presented);
    if (cached != null && revocationsSeen()) {
      // Looked up again: a sweep run by this call may just have forgotten it.
      return valid.getIfPresent(presented);
    }
    return null;
  }

  /** The valid (not revoked) key whose secret is {@code secret}, if any. */
  public Optional<ApiKey> authenticate(String secret) {
    if (!wellFormed(secret)) {
      return Optional.empty();
    }
    String presented = hash(secret);
    ApiKey cached = fromMemory(presented);
    if (cached != null) {
      return Optional.of(cached);
    }
    if (notValid != null && notValid.getIfPresent(presented) != null) {
      return Optional.empty();
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
    } catch (LedgerUnavailableException e) {
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
        notValid.put(presented, Boolean.TRUE);
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
      } catch (LedgerUnavailableException e) {
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
   * A failed read starts or extends the outage until {@code next}, but never shortens a later retry
   * time (a claim held by another call).
   */
  private void extendOutage(long next) {
    databaseRetryAt.updateAndGet(
        current -> current != Long.MIN_VALUE && current - next > 0 ? current : next);
  }

  /** Reads the keys revoked lately and forgets those remembered. Runs under {@link #sweeping}. */
  private void sweep(long startedAt) {
    long fromMillis = sweepFromMillis;
    long nextFromMillis = clock.millis();
    Map<String, Long> found = records.revokedSince(fromMillis - SWEEP_CLOCK_MARGIN.toMillis());
    Set<String> fresh = new HashSet<>();
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
    keyReads.increment();
    return records.findByHash(presented).filter(key -> !key.revoked());
  }

  /** Keys of {@code accountId} (all keys when null), oldest first, without secrets. */
  public List<ApiKey> list(String accountId) {
    return records.list(accountId);
  }

  public Optional<ApiKey> find(String id) {
    return records.find(id);
  }

  /**
   * Revokes the key; returns it, or empty when there is no such key. Revoking twice keeps the first
   * time.
   */
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
    records.revoke(id, clock.instant());
    return find(id);
  }

  static String hash(String secret) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }

  /**
   * Closes the records: the connection pool {@link #open} made; nothing for a caller's data source.
   */
  @Override
  public void close() {
    records.close();
  }
}

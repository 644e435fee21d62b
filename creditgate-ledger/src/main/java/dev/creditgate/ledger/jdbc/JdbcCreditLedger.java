package dev.creditgate.ledger.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditCache;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.AccountNotFoundException;
import dev.creditgate.ledger.ChargeIntent;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.CreditLedger;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.IdempotencyConflictException;
import dev.creditgate.ledger.LedgerChecks;
import dev.creditgate.ledger.LedgerAudit;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.LedgerStats;
import dev.creditgate.ledger.MeteringLedger;
import dev.creditgate.ledger.PriceBook;
import dev.creditgate.ledger.LedgerUnavailableException;
import dev.creditgate.ledger.Page;
import dev.creditgate.ledger.VerifyResult;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The credit ledger on PostgreSQL or SQLite (the embedded default), through a HikariCP pool, with
 * the schema kept by Flyway.
 *
 * <p>What a caller may rely on:
 * <ul>
 *   <li>Every operation is one database transaction that locks the account row (PostgreSQL
 *       {@code SELECT ... FOR UPDATE}, SQLite {@code BEGIN IMMEDIATE}) and updates it guarded by its
 *       version, so no update is lost and an event id is recorded at most once per account, even
 *       when the same event arrives concurrently.</li>
 *   <li>A charge the database cannot take (down, timing out, locked) is written to a durable local
 *       spool and replayed in the background, in order and idempotently; the spool survives a
 *       restart. {@link #stats()} reports its size and lag.</li>
 *   <li>After every committed change the account's new snapshot goes to the {@link CreditCache}
 *       given to the builder (versioned), so a top-up or a block takes effect on the next guard
 *       call; a cache failure is retried and logged and never fails the operation.</li>
 *   <li>Every statement has a timeout ({@link Builder#statementTimeout}), and so does taking a
 *       connection from the pool ({@link Builder#connectionTimeout}).</li>
 * </ul>
 *
 * <p>Create one per process and close it on shutdown; it owns its pool, its background thread and
 * its spool directory.
 */
public final class JdbcCreditLedger implements CreditLedger, MeteringLedger, PriceBook, LedgerAudit {

  /** The embedded default: a SQLite file under {@code ./data}. */
  public static final String DEFAULT_JDBC_URL = "jdbc:sqlite:./data/creditgate.db";
  public static final Path DEFAULT_SPOOL_DIRECTORY = Path.of("data", "spool");
  public static final Duration DEFAULT_STATEMENT_TIMEOUT = Duration.ofSeconds(5);
  /** How long an operation waits for a pooled connection; a dead database is noticed this fast. */
  public static final Duration DEFAULT_CONNECTION_TIMEOUT = Duration.ofSeconds(2);
  public static final int DEFAULT_POOL_SIZE = 8;
  /** How often the spool is replayed while it holds charges. */
  public static final Duration DEFAULT_REPLAY_INTERVAL = Duration.ofSeconds(1);
  /** How long price rules read from the database are used before they are read again. */
  public static final Duration DEFAULT_PRICE_RULE_REFRESH = Duration.ofSeconds(10);
  /** How long an operation waits for its cache update before leaving it to background retries. */
  public static final Duration DEFAULT_CACHE_TIMEOUT = Duration.ofMillis(200);
  /** How often the write-behind journal starts a new file (a file goes once all its charges are written). */
  static final long JOURNAL_ROLL_MILLIS = 5000;
  /** The shortest time between two journal fsyncs when no call waits for one. */
  static final long JOURNAL_SYNC_INTERVAL_MICROS = 5000;
  /** The most charges group commit writes in one transaction. */
  public static final int DEFAULT_CHARGE_BATCH_SIZE = 64;
  /**
   * Write-behind: how long a committer lets queued charges gather after the first before it writes
   * them. Nobody waits for a queued charge's commit (its journal record keeps it), so a few
   * milliseconds buy batches several times larger: fewer transactions, fsyncs and statement
   * preparations per charge, which is most of the ledger's CPU.
   */
  static final Duration WRITE_BEHIND_LINGER = Duration.ofMillis(50);
  /** The longest request id, scene, provider, model or actor accepted. */
  public static final int MAX_FIELD_LENGTH = 200;
  public static final int MAX_REASON_LENGTH = 2000;
  public static final int MAX_METADATA_LENGTH = 8192;
  public static final int MAX_PAGE_SIZE = 1000;

  private static final Logger LOG = LoggerFactory.getLogger(JdbcCreditLedger.class);
  private static final int UNIQUE_RACE_ATTEMPTS = 3;
  private static final AtomicInteger THREADS = new AtomicInteger();

  private static final String ACCOUNT_COLUMNS =
      "id, balance, blocked, version, granted, consumed, refunded, created_at, updated_at";
  private static final String ENTRY_COLUMNS = "id, account_id, event_id, kind, amount, balance_after, request_id, "
      + "scene, provider, model, input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_micros, "
      + "price_rule_id, unpriced, estimated, ref_event_id, actor, reason, metadata, created_at";
  private static final String RULE_COLUMNS = "id, scene, provider, model, input_price, output_price, cached_price, "
      + "reasoning_price, credits_per_unit, markup_bps, priority, active";

  private final Dialect dialect;
  private final HikariDataSource dataSource;
  private final Clock clock;
  private final int queryTimeoutSeconds;
  private final long priceRuleRefreshMillis;
  private final ChargeSpool spool;
  private final CacheSync cacheSync;
  private final ScheduledExecutorService scheduler;
  private final ReentrantLock replayLock = new ReentrantLock();
  /** Failed replays per spooled record (other than "database unavailable"); guarded by replayLock. */
  private final java.util.Map<SpoolRecord, Integer> replayAttempts = new java.util.HashMap<>();
  /** Replays of one record that may fail before it is set aside in the rejected file. */
  static final int MAX_REPLAY_ATTEMPTS = 5;
  private final ReentrantLock sqliteWriteLock = new ReentrantLock(true);
  private final long statementTimeoutMillis;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicLong spooled = new AtomicLong();
  private final AtomicLong replayed = new AtomicLong();
  private final AtomicLong rejected = new AtomicLong();
  private final AtomicLong unpriced = new AtomicLong();
  private final ChargeBatcher batcher;
  /** The write-behind journal, or null when every charge is committed before {@link #charge} returns. */
  private final ChargeJournal journal;
  /** Queued (journaled, not yet committed) charges per account, and their keys. */
  private final java.util.concurrent.ConcurrentHashMap<String, QueuedAccount> queuedByAccount =
      new java.util.concurrent.ConcurrentHashMap<>();
  private final java.util.Set<String> queuedEvents = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /**
   * The balance (and version) this ledger last wrote per account, for {@link #awaitChargesBeforeCheck}:
   * with it, an account whose queued charges leave it positive is checked without waiting for them.
   * Bounded by {@link #MAX_KNOWN_BALANCES}: when full, accounts with nothing queued are forgotten
   * (an account not remembered just waits).
   */
  private final java.util.concurrent.ConcurrentHashMap<String, KnownBalance> knownBalances =
      new java.util.concurrent.ConcurrentHashMap<>();
  static final int MAX_KNOWN_BALANCES = 100_000;
  private final long readYourChargesNanos;
  private volatile List<PriceRule> rules;
  private volatile long rulesLoadedAtMillis;

  private JdbcCreditLedger(Builder b) {
    this.dialect = Dialect.of(b.jdbcUrl);
    this.clock = b.clock;
    this.statementTimeoutMillis = b.statementTimeout.toMillis();
    this.queryTimeoutSeconds = (int) Math.max(1, (b.statementTimeout.toMillis() + 999) / 1000);
    this.priceRuleRefreshMillis = b.priceRuleRefresh.toMillis();
    this.dataSource = createDataSource(b, dialect);
    ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(2, runnable -> {
      Thread thread = new Thread(runnable, "creditgate-ledger-" + THREADS.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    });
    executor.setRemoveOnCancelPolicy(true);
    this.scheduler = executor;
    this.cacheSync = new CacheSync(b.cache, b.cacheSnapshotTtl, b.cacheBlockedTtl, b.cacheTimeout, scheduler);
    ChargeSpool opened = null;
    try {
      if (b.migrate) {
        migrate(dataSource, dialect);
      }
      opened = new ChargeSpool(b.spoolDirectory);
    } catch (RuntimeException e) {
      scheduler.shutdownNow();
      dataSource.close();
      throw e;
    }
    this.spool = opened;
    this.readYourChargesNanos = Math.min(TimeUnit.SECONDS.toNanos(1), b.statementTimeout.toNanos());
    if (b.chargeBatchSize > 1) {
      // SQLite writes one transaction at a time, so more than one committer would only queue.
      int committers = dialect == Dialect.SQLITE ? 1 : Math.max(1, b.poolSize / 2);
      long wait = b.connectionTimeout.toMillis() + 2 * b.statementTimeout.toMillis();
      this.batcher = new ChargeBatcher(committers, b.chargeBatchSize, wait,
          b.writeBehind ? WRITE_BEHIND_LINGER.toNanos() : 0);
    } else {
      this.batcher = null;
    }
    ChargeJournal openedJournal = null;
    if (b.writeBehind) {
      try {
        openedJournal = openJournal(b.spoolDirectory);
      } catch (RuntimeException e) {
        if (batcher != null) {
          batcher.stop();
        }
        spool.close();
        scheduler.shutdownNow();
        dataSource.close();
        throw e;
      }
    }
    this.journal = openedJournal;
    // Replays what a previous process left in the spool at once, then keeps draining it.
    long interval = b.replayInterval.toMillis();
    scheduler.scheduleWithFixedDelay(this::replayQuietly, 0, interval, TimeUnit.MILLISECONDS);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Moves what an earlier process left in the journal to the spool (one fsync), then starts a new
   * journal. Charges the database already has are left out; the spool replays the rest.
   */
  private ChargeJournal openJournal(Path directory) {
    ChargeJournal.Recovered recovered;
    try {
      recovered = ChargeJournal.recover(directory, ChargeJournal.bootId());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot read the charge journal in " + directory, e);
    }
    List<SpoolRecord> toSpool = new ArrayList<>();
    int known = 0;
    List<SpoolRecord> candidates = new ArrayList<>(recovered.charges());
    for (SpoolRecord estimate : recovered.unfinishedIntents()) {
      ChargeRequest r = estimate.request();
      LOG.warn("journal written before a reboot holds a call without its charge; charging its estimate,"
          + " account_id={} event_id={} usage={}", r.accountId(), r.eventId(), r.usage());
      candidates.add(new SpoolRecord(estimate.spooledAt(), new ChargeRequest(r.accountId(), r.eventId(),
          r.requestId(), r.scene(), r.provider(), r.model(), r.usage(), true, r.metadata()), estimate.quote()));
    }
    boolean databaseReadable = true;
    for (SpoolRecord record : candidates) {
      if (databaseReadable) {
        try {
          if (entry(record.request().accountId(), record.request().eventId()).isPresent()) {
            known++;
            continue;
          }
        } catch (LedgerUnavailableException e) {
          databaseReadable = false;
        }
      }
      toSpool.add(record);
    }
    spool.appendAll(toSpool);
    long next = 0;
    for (Path file : recovered.files()) {
      next = Math.max(next, ChargeJournal.segmentId(file) + 1);
      try {
        Files.deleteIfExists(file);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("cannot delete the replayed charge journal " + file, e);
      }
    }
    if (!recovered.files().isEmpty()) {
      LOG.info("charge journal recovered: {} charges and {} estimated calls read, {} already in the ledger,"
          + " {} to the spool", recovered.charges().size(), recovered.unfinishedIntents().size(), known,
          toSpool.size());
    }
    return new ChargeJournal(directory, ChargeJournal.bootId(), next, JOURNAL_ROLL_MILLIS,
        JOURNAL_SYNC_INTERVAL_MICROS);
  }

  private static HikariDataSource createDataSource(Builder b, Dialect dialect) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("creditgate-ledger");
    config.setJdbcUrl(b.jdbcUrl);
    if (b.username != null) {
      config.setUsername(b.username);
    }
    if (b.password != null) {
      config.setPassword(b.password);
    }
    config.setMaximumPoolSize(b.poolSize);
    config.setConnectionTimeout(b.connectionTimeout.toMillis());
    config.setValidationTimeout(Math.min(b.connectionTimeout.toMillis(), 1000));
    // Start (and spool) even when the database is down; connections are made when it is back.
    config.setInitializationFailTimeout(-1);
    long statementMillis = b.statementTimeout.toMillis();
    if (dialect == Dialect.POSTGRESQL) {
      config.setConnectionInitSql("SET statement_timeout = " + statementMillis);
      // A network-level backstop should the server stop answering altogether.
      config.addDataSourceProperty("socketTimeout", Long.toString(statementMillis / 1000 + 5));
      config.addDataSourceProperty("connectTimeout", Long.toString(Math.max(1, b.connectionTimeout.toSeconds())));
    } else {
      createSqliteDirectory(b.jdbcUrl);
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
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("jdbcUrl names a SQLite file whose directory cannot be created: " + parent, e);
    }
  }

  /**
   * Brings the ledger's schema at {@code jdbcUrl} up to date (the {@code creditgate migrate}
   * command). Returns the number of migrations applied.
   *
   * @throws LedgerUnavailableException when the database cannot be reached or migrated
   */
  public static int migrate(String jdbcUrl) {
    Dialect dialect = Dialect.of(jdbcUrl);
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setMaximumPoolSize(1);
    config.setPoolName("creditgate-migrate");
    if (dialect == Dialect.SQLITE) {
      createSqliteDirectory(jdbcUrl);
    }
    try (HikariDataSource source = new HikariDataSource(config)) {
      return migrate(source, dialect);
    } catch (com.zaxxer.hikari.pool.HikariPool.PoolInitializationException e) {
      throw new LedgerUnavailableException("cannot connect to the ledger database to migrate it", e);
    }
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
      throw new LedgerUnavailableException("cannot migrate the ledger database: " + e.getMessage(), e);
    }
  }

  /**
   * The ledger's pool. The gateway keeps its own tables in the same database with its own Flyway
   * location and history table; it must not change the ledger's tables.
   */
  public DataSource dataSource() {
    return dataSource;
  }

  public Dialect dialect() {
    return dialect;
  }

  /** A reading of the spool and the counters, for metrics. */
  @Override
  public LedgerStats stats() {
    Instant oldest = spool.oldest();
    Duration lag = oldest == null ? Duration.ZERO : Duration.between(oldest, clock.instant());
    return new LedgerStats(spool.size(), spool.bytes(), lag.isNegative() ? Duration.ZERO : lag, spooled.get(),
        replayed.get(), rejected.get(), unpriced.get(), cacheSync.failures(),
        batcher == null ? 0 : batcher.commits.sum(), batcher == null ? 0 : batcher.committedCharges.sum(),
        batcher == null ? 0 : batcher.commitNanos.sum(), queuedEvents.size());
  }

  // ---------------------------------------------------------------- accounts

  @Override
  public Optional<CreditSnapshot> fetchSnapshot(String accountId) {
    return account(accountId).map(Account::snapshot);
  }

  @Override
  public Account openAccount(String accountId) {
    BillingContext.requireValidAccountId(accountId);
    return transaction(c -> lockAccount(c, accountId, true, now()));
  }

  @Override
  public Optional<Account> account(String accountId) {
    BillingContext.requireValidAccountId(accountId);
    awaitOwnCharges(accountId);
    return read(c -> {
      try (PreparedStatement s = prepare(c, "SELECT " + ACCOUNT_COLUMNS + " FROM accounts WHERE id = ?")) {
        s.setString(1, accountId);
        try (ResultSet rows = s.executeQuery()) {
          return rows.next() ? Optional.of(readAccount(rows)) : Optional.<Account>empty();
        }
      }
    });
  }

  @Override
  public Page<Account> accounts(String cursor, int limit) {
    requireLimit(limit);
    String after = cursor == null ? "" : cursor;
    return read(c -> {
      List<Account> items = new ArrayList<>();
      try (PreparedStatement s = prepare(c,
          "SELECT " + ACCOUNT_COLUMNS + " FROM accounts WHERE id > ? ORDER BY id LIMIT ?")) {
        s.setString(1, after);
        s.setInt(2, limit + 1);
        try (ResultSet rows = s.executeQuery()) {
          while (rows.next()) {
            items.add(readAccount(rows));
          }
        }
      }
      if (items.size() <= limit) {
        return new Page<>(items, null);
      }
      List<Account> page = items.subList(0, limit);
      return new Page<>(page, page.get(limit - 1).id());
    });
  }

  // ---------------------------------------------------------------- credit-moving operations

  @Override
  public LedgerEntry grant(String accountId, long amount, String eventId, String actor, String reason) {
    checkCommon(accountId, eventId, actor, reason);
    LedgerChecks.requirePositiveAmount("amount", amount);
    return apply(accountId, eventId, true, Change.simple(EntryKind.GRANT, amount, actor, reason)).entry();
  }

  @Override
  public LedgerEntry refund(String accountId, String chargeEventId, long amount, String eventId, String actor,
      String reason) {
    checkCommon(accountId, eventId, actor, reason);
    LedgerChecks.requireEventId(chargeEventId);
    LedgerChecks.requirePositiveAmount("amount", amount);
    return apply(accountId, eventId, false, Change.refund(chargeEventId, amount, actor, reason)).entry();
  }

  @Override
  public LedgerEntry adjust(String accountId, long amount, String eventId, String actor, String reason) {
    checkCommon(accountId, eventId, actor, reason);
    LedgerChecks.requireNonZeroAmount("amount", amount);
    if (reason == null || reason.isBlank()) {
      throw new IllegalArgumentException("reason must be given for an adjustment, but was "
          + (reason == null ? "null" : "'" + reason + "'"));
    }
    return apply(accountId, eventId, false, Change.simple(EntryKind.ADJUSTMENT, amount, actor, reason)).entry();
  }

  @Override
  public LedgerEntry block(String accountId, String eventId, String actor, String reason) {
    checkCommon(accountId, eventId, actor, reason);
    return apply(accountId, eventId, false, Change.simple(EntryKind.BLOCK, 0, actor, reason)).entry();
  }

  @Override
  public LedgerEntry unblock(String accountId, String eventId, String actor, String reason) {
    checkCommon(accountId, eventId, actor, reason);
    return apply(accountId, eventId, false, Change.simple(EntryKind.UNBLOCK, 0, actor, reason)).entry();
  }

  @Override
  public ChargeResult charge(ChargeRequest request) {
    return charge(request, null);
  }

  private ChargeResult charge(ChargeRequest request, JournalIntent intent) {
    Objects.requireNonNull(request, "request");
    checkCharge(request);
    ensureOpen();
    Quote quote;
    try {
      quote = quoteFor(request.scene(), request.provider(), request.model(), request.usage());
    } catch (LedgerUnavailableException e) {
      // No price rules could ever be read: spool unpriced, priced on replay.
      return settled(intent, spool(request, null, e));
    }
    if (!spool.isEmpty()) {
      // Older charges wait in the spool: keep their order and do not wait on a database that just failed.
      return settled(intent, spool(request, quote, null));
    }
    if (journal != null && batcher != null) {
      ChargeResult result = queue(request, quote, intent);
      if (result != null) {
        return result;
      }
    }
    try {
      return settled(intent, applyCharge(request, quote));
    } catch (LedgerUnavailableException e) {
      return settled(intent, spool(request, quote, e));
    }
  }

  private static ChargeResult settled(JournalIntent intent, ChargeResult result) {
    if (intent != null) {
      intent.settle();
    }
    return result;
  }

  /**
   * Write-behind: journals the charge (a {@code write(2)}, which survives a crash of the process)
   * and leaves its database write to the committer; null when the journal cannot be written (the
   * caller then commits the charge before returning).
   */
  private ChargeResult queue(ChargeRequest request, Quote quote, JournalIntent intent) {
    if (quote.credits() > LedgerChecks.MAX_AMOUNT) {
      throw new IllegalArgumentException("charge of " + quote.credits() + " credits for usage " + request.usage()
          + " exceeds the largest amount " + LedgerChecks.MAX_AMOUNT);
    }
    SpoolRecord record = new SpoolRecord(clock.instant(), request, quote);
    ChargeJournal.Ticket ticket;
    try {
      ticket = journal.charge(record, intent == null ? null : intent.eventId);
    } catch (RuntimeException e) {
      LOG.warn("charge journal not writable, committing the charge before answering, event_id={}: {}",
          request.eventId(), e.toString());
      return null;
    }
    if (intent != null) {
      intent.linked = true;
    }
    queuedEvents.add(key(request.accountId(), request.eventId()));
    queuedByAccount.compute(request.accountId(), (k, q) -> {
      QueuedAccount account = q == null ? new QueuedAccount() : q;
      account.queued++;
      account.addPending(quote.credits());
      return account;
    });
    batcher.enqueue(new PendingCharge(request, quote, null, null, record, ticket, intent));
    return new ChargeResult(ChargeResult.Status.QUEUED, null, quote);
  }

  private static String key(String accountId, String eventId) {
    return accountId + "\n" + eventId;
  }

  /**
   * A queued charge's end: committed, or spooled when the database is away, or set aside in the
   * rejected file when the ledger refuses it. Its journal record is done once the charge is durable
   * elsewhere; should even the spool fail, the record stays in the journal for the next start.
   */
  private void settleQueued(PendingCharge p, RuntimeException error) {
    boolean durable = true;
    SpoolRecord record = p.record();
    if (error instanceof IdempotencyConflictException) {
      // Another gateway served the same Idempotency-Key at the same moment and charged it first.
      // This call was served as well, so it is charged under an id of its own rather than given
      // away (what the gateway does when a charge it waits for meets the conflict).
      ChargeRequest own = p.request().underOwnId();
      LOG.warn("idempotency key raced on another gateway; charging this call as {}, account_id={} event_id={}",
          own.eventId(), own.accountId(), p.request().eventId());
      record = new SpoolRecord(clock.instant(), own, p.quote());
      try {
        applyChargeAlone(own, p.quote());
        error = null;
      } catch (RuntimeException e) {
        error = e;
      }
    }
    if (error instanceof IdempotencyConflictException || error instanceof IllegalArgumentException
        || error instanceof AccountNotFoundException) {
      rejected.incrementAndGet();
      LOG.error("queued charge rejected by the ledger, kept in {}: account_id={} event_id={}: {}",
          ChargeSpool.REJECTED_FILE, p.request().accountId(), p.request().eventId(), error.getMessage());
      spool.reject(record, error.getMessage());
    } else if (error != null) {
      try {
        spool.append(record);
        spooled.incrementAndGet();
        LOG.warn("ledger database unavailable, queued charge spooled, account_id={} event_id={}: {}",
            p.request().accountId(), p.request().eventId(), error.getMessage());
      } catch (RuntimeException e) {
        durable = false;
        LOG.error("queued charge could not be spooled; it stays in the journal for the next start,"
            + " account_id={} event_id={}: {}", p.request().accountId(), p.request().eventId(), e.toString());
      }
    }
    if (durable) {
      queuedEvents.remove(key(p.request().accountId(), p.request().eventId()));
    }
    // else: still counted as spent (a reused key is refused) until the next start replays it from the journal.
    queuedByAccount.computeIfPresent(p.request().accountId(), (k, q) -> q.settle(p.quote().credits()) ? null : q);
    if (durable) {
      if (p.intent() != null) {
        journal.doneWhenGone(p.ticket(), p.intent().ticket);
        p.intent().settle();
      } else {
        journal.done(p.ticket());
      }
    }
  }

  @Override
  public ChargeIntent intend(ChargeRequest estimate) {
    Objects.requireNonNull(estimate, "estimate");
    checkCharge(estimate);
    ensureOpen();
    if (journal == null || batcher == null) {
      return MeteringLedger.super.intend(estimate);
    }
    try {
      ChargeJournal.Ticket ticket = journal.intent(new SpoolRecord(clock.instant(), estimate, null));
      return new JournalIntent(estimate.accountId(), estimate.eventId(), ticket);
    } catch (RuntimeException e) {
      throw new LedgerUnavailableException("cannot journal the intent of event " + estimate.eventId(), e);
    }
  }

  private record KnownBalance(long version, long balance) {
  }

  /**
   * The newest balance of an account known here: what this ledger last wrote, or the cache's
   * snapshot when that is newer (another gateway's or process's write, which the guard will read);
   * {@code Long.MIN_VALUE} when neither is known (when the cache did not answer, this ledger's own
   * last write is used).
   */
  private static long newestBalance(KnownBalance known, CreditSnapshot cached) {
    if (cached != null && (known == null || cached.version() > known.version())) {
      return cached.availableCredit();
    }
    return known == null ? Long.MIN_VALUE : known.balance();
  }

  /** Remembers what a commit left in the account, unless a newer version is known already. */
  private void remember(String accountId, long version, long balance) {
    if (journal == null) {
      return;
    }
    if (knownBalances.size() >= MAX_KNOWN_BALANCES && !knownBalances.containsKey(accountId)) {
      // Only accounts with nothing queued are forgotten: clearing one whose commit is being
      // remembered could let an older version back in.
      knownBalances.keySet().removeIf(account -> !queuedByAccount.containsKey(account));
      if (knownBalances.size() >= MAX_KNOWN_BALANCES) {
        return; // this account's checks wait, as for any account not remembered
      }
    }
    knownBalances.merge(accountId, new KnownBalance(version, balance), (a, b) -> a.version() >= b.version() ? a : b);
  }

  /**
   * An account's queued charges: how many were queued and how many settled, and callers waiting
   * for the count settled to reach the count queued when they started (so a steady stream of new
   * charges never keeps an earlier caller waiting). Changed only inside the map's compute.
   */
  private static final class QueuedAccount {
    long queued;
    long settled;
    /** Credits of the charges queued and not settled yet, unless {@link #pendingOverflow}. */
    long pendingCredits;
    /** The credits queued passed {@code Long.MAX_VALUE}: unknown until all settle (a check then always waits). */
    boolean pendingOverflow;

    void addPending(long credits) {
      if (credits > Long.MAX_VALUE - pendingCredits) {
        pendingOverflow = true;
      } else {
        pendingCredits += credits;
      }
    }
    final List<java.util.Map.Entry<Long, CompletableFuture<Void>>> waiters = new ArrayList<>(1);

    /** Counts one settled charge and wakes whom it concerns; true when nothing is left queued. */
    boolean settle(long credits) {
      settled++;
      if (!pendingOverflow) {
        pendingCredits -= credits;
      }
      waiters.removeIf(w -> {
        if (w.getKey() <= settled) {
          w.getValue().complete(null);
          return true;
        }
        return false;
      });
      if (settled == queued) {
        for (var w : waiters) {
          w.getValue().complete(null);
        }
        return true;
      }
      return false;
    }
  }

  @Override
  public long pendingDebits(String accountId, dev.creditgate.CreditSnapshot snapshot) {
    return 0; // TODO(reshape): replaced by the queue's pending debits
  }

  @Override
  public boolean awaitCharges(String accountId, Duration timeout) {
    return awaitQueued(accountId, timeout, false);
  }

  public boolean awaitChargesBeforeCheck(String accountId, Duration timeout) {
    return awaitQueued(accountId, timeout, true);
  }

  private boolean awaitQueued(String accountId, Duration timeout, boolean unlessStillPositive) {
    Objects.requireNonNull(timeout, "timeout");
    if (!queuedByAccount.containsKey(accountId)) {
      return true;
    }
    // Another process's write is only in the cache; the cache is read first (it may block, up to
    // its timeout) and this ledger's own last write inside the look at the queue, so a charge of
    // this ledger settled in between is in that write (a commit is remembered before its charges
    // settle) and no longer in the queued credits.
    CreditSnapshot cached = unlessStillPositive ? cacheSync.peek(accountId) : null;
    CompletableFuture<Void> done = new CompletableFuture<>();
    AtomicBoolean registered = new AtomicBoolean();
    queuedByAccount.computeIfPresent(accountId, (k, q) -> {
      if (unlessStillPositive && !q.pendingOverflow) {
        // A commit remembered but not yet settled counts twice, which errs towards waiting.
        long balance = newestBalance(knownBalances.get(accountId), cached);
        if (balance != Long.MIN_VALUE && balance > q.pendingCredits) {
          return q;
        }
      }
      q.waiters.add(java.util.Map.entry(q.queued, done));
      registered.set(true);
      return q;
    });
    if (!registered.get()) {
      // All settled in between: nothing queued before this call is left.
      return true;
    }
    try {
      done.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException e) {
      return true;
    }
  }

  /** Reads see the account's own queued charges (bounded wait: a read is never held up by a dead database). */
  private void awaitOwnCharges(String accountId) {
    if (journal != null) {
      awaitCharges(accountId, Duration.ofNanos(readYourChargesNanos));
    }
  }

  /** An intent in the journal; done once its charge is durable, or voided when its call ends uncharged. */
  private final class JournalIntent implements ChargeIntent {
    final String accountId;
    final String eventId;
    final ChargeJournal.Ticket ticket;
    volatile boolean linked;
    private final AtomicBoolean closedOnce = new AtomicBoolean();

    JournalIntent(String accountId, String eventId, ChargeJournal.Ticket ticket) {
      this.accountId = accountId;
      this.eventId = eventId;
      this.ticket = ticket;
    }

    @Override
    public boolean awaitDurable(Duration timeout) {
      try {
        return journal.awaitDurable(ticket, timeout.toNanos());
      } catch (java.io.UncheckedIOException e) {
        throw new LedgerUnavailableException("the charge journal cannot be synced", e);
      }
    }

    @Override
    public ChargeResult charge(ChargeRequest request) {
      return JdbcCreditLedger.this.charge(request, this);
    }

    void settle() {
      linked = true;
      journal.done(ticket);
    }

    @Override
    public void close() {
      if (linked || !closedOnce.compareAndSet(false, true)) {
        return;
      }
      try {
        journal.doneWhenGone(journal.voided(accountId, eventId), ticket);
      } catch (RuntimeException e) {
        // Without the void record the intent stays open: charged its estimate only after a reboot.
        LOG.warn("cannot journal the end of an uncharged call, event_id={}: {}", eventId, e.toString());
      }
      journal.done(ticket);
    }
  }

  private ChargeResult applyCharge(ChargeRequest request, Quote quote) {
    if (quote.credits() > LedgerChecks.MAX_AMOUNT) {
      throw new IllegalArgumentException("charge of " + quote.credits() + " credits for usage " + request.usage()
          + " exceeds the largest amount " + LedgerChecks.MAX_AMOUNT);
    }
    if (batcher != null) {
      return batcher.submit(request, quote);
    }
    return applyChargeAlone(request, quote);
  }

  private ChargeResult applyChargeAlone(ChargeRequest request, Quote quote) {
    return chargeResult(applyWhileOpen(request.accountId(), request.eventId(), true, Change.charge(request, quote)),
        request, quote);
  }

  private ChargeResult chargeResult(Applied applied, ChargeRequest request, Quote quote) {
    LedgerEntry entry = applied.entry();
    if (applied.replayed()) {
      return new ChargeResult(ChargeResult.Status.REPLAYED, entry,
          new Quote(entry.costMicros(), -entry.amount(), entry.priceRuleId(), entry.unpriced()));
    }
    if (entry.unpriced()) {
      unpriced.incrementAndGet();
      LOG.warn("unpriced charge recorded at cost 0: no active price rule matches scene='{}' provider='{}' model='{}'"
          + " (account_id={} event_id={})", request.scene(), request.provider(), request.model(),
          request.accountId(), request.eventId());
    }
    return new ChargeResult(ChargeResult.Status.APPLIED, entry, quote);
  }

  /**
   * A charge waiting for its group commit: either a caller's (its future and the thread waiting for
   * it, woken when it is done) or a queued one (its journal record, settled when it is done).
   */
  private record PendingCharge(ChargeRequest request, Quote quote, CompletableFuture<ChargeResult> result,
      Thread waiter, SpoolRecord record, ChargeJournal.Ticket ticket, JournalIntent intent) {

    PendingCharge(ChargeRequest request, Quote quote, CompletableFuture<ChargeResult> result, Thread waiter) {
      this(request, quote, result, waiter, null, null, null);
    }
  }

  /** Hands a charge's outcome to whoever waits for it. */
  private void finish(PendingCharge p, ChargeResult result, RuntimeException error) {
    if (p.ticket() != null) {
      settleQueued(p, error);
      return;
    }
    boolean changed = error == null ? p.result().complete(result) : p.result().completeExceptionally(error);
    if (changed) {
      LockSupport.unpark(p.waiter());
    }
  }

  /**
   * Group commit: concurrent charges are written many (of any accounts) per transaction, so one
   * commit (one fsync) serves the whole batch. A few committer threads (one for SQLite, which
   * writes one transaction at a time) take whatever is queued, up to the batch size, write it in
   * one transaction and wake each charge's caller; while a batch commits, the next one queues.
   * The committers are platform threads of their own: a commit is a blocking native call for
   * SQLite (JNI, fsync included), and on a request's virtual thread it would pin one of the few
   * carrier threads for the whole commit. Accounts are locked in id order within a batch, so two
   * batches never deadlock. A charge the ledger refuses (an idempotency conflict) fails alone; a
   * database error rolls the batch back and its charges are then written one by one, so one bad
   * charge never sinks the others.
   */
  private final class ChargeBatcher {
    private final LinkedBlockingQueue<PendingCharge> queue = new LinkedBlockingQueue<>();
    final LongAdder commits = new LongAdder();
    final LongAdder committedCharges = new LongAdder();
    final LongAdder commitNanos = new LongAdder();
    private final List<Thread> committers = new ArrayList<>();
    private final int maxBatch;
    private final long waitNanos;
    private final long lingerNanos;
    private volatile boolean stopped;

    ChargeBatcher(int committers, int maxBatch, long waitMillis, long lingerNanos) {
      this.maxBatch = maxBatch;
      this.lingerNanos = lingerNanos;
      this.waitNanos = TimeUnit.MILLISECONDS.toNanos(waitMillis);
      for (int i = 0; i < committers; i++) {
        Thread t = Thread.ofPlatform().daemon().name("creditgate-ledger-committer-" + i).unstarted(this::run);
        this.committers.add(t);
        t.start();
      }
    }

    /** Queues a charge nobody waits for (write-behind). */
    void enqueue(PendingCharge pending) {
      queue.add(pending);
    }

    ChargeResult submit(ChargeRequest request, Quote quote) {
      if (stopped) {
        throw new LedgerUnavailableException("the ledger is closing", null);
      }
      PendingCharge pending = new PendingCharge(request, quote, new CompletableFuture<>(), Thread.currentThread());
      queue.add(pending);
      if (stopped) {
        fail(pending);
      }
      long deadline = System.nanoTime() + waitNanos;
      while (!pending.result().isDone()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          // It may still commit; the caller spools it and the replay finds it applied (same event id).
          throw new LedgerUnavailableException("charge not committed within " + waitNanos / 1_000_000 + " ms", null);
        }
        LockSupport.parkNanos(this, left);
        if (Thread.interrupted()) {
          Thread.currentThread().interrupt();
          throw new LedgerUnavailableException("interrupted while waiting for the charge to commit", null);
        }
      }
      try {
        return pending.result().join();
      } catch (java.util.concurrent.CompletionException e) {
        if (e.getCause() instanceof RuntimeException runtime) {
          throw runtime;
        }
        throw new IllegalStateException(e.getCause());
      }
    }

    /** A committer: takes what is queued, a batch per transaction, until stopped (it then finishes its batch). */
    private void run() {
      List<PendingCharge> batch = new ArrayList<>(maxBatch);
      while (!stopped) {
        try {
          PendingCharge first = queue.poll(100, TimeUnit.MILLISECONDS);
          if (first == null) {
            continue;
          }
          if (lingerNanos > 0 && first.waiter() == null && queue.size() < maxBatch - 1 && !stopped) {
            // One sleep rather than a wake-up per arriving charge.
            LockSupport.parkNanos(this, lingerNanos);
          }
          batch.add(first);
          queue.drainTo(batch, maxBatch - 1);
          long start = System.nanoTime();
          commit(batch);
          commits.increment();
          committedCharges.add(batch.size());
          commitNanos.add(System.nanoTime() - start);
        } catch (InterruptedException e) {
          return;
        } catch (RuntimeException e) {
          LOG.error("ledger committer failed a batch of {} charges", batch.size(), e);
          for (PendingCharge p : batch) {
            finish(p, null, new LedgerUnavailableException("the charge could not be committed", e));
          }
        } finally {
          batch.clear();
        }
      }
    }

    private void commit(List<PendingCharge> batch) {
      if (batch.size() == 1) {
        complete(batch.get(0));
        return;
      }
      List<PendingCharge> ordered = new ArrayList<>(batch);
      ordered.sort(java.util.Comparator.comparing(p -> p.request().accountId()));
      List<Object> outcomes;
      try {
        boolean lookFirst = lookUpStoredFirst;
        try {
          outcomes = transaction(c -> applyBatch(c, ordered, lookFirst));
        } catch (EntryAlreadyStored e) {
          // A replay (or a repeated idempotency key): apply the batch again, reading its stored entries first.
          lookUpStoredFirst = true;
          outcomes = transaction(c -> applyBatch(c, ordered, true));
        }
      } catch (LedgerUnavailableException e) {
        if (e.getCause() instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("40")) {
          // A deadlock or serialization failure (possible when batches create the same new accounts).
          for (PendingCharge p : ordered) {
            complete(p);
          }
          return;
        }
        for (PendingCharge p : ordered) {
          finish(p, null, e);
        }
        return;
      } catch (RuntimeException e) {
        for (PendingCharge p : ordered) {
          complete(p);
        }
        return;
      }
      // The newest state of each account the batch changed, published all at once before any
      // charge completes, so that a caller's next guard check sees its own charge.
      java.util.Map<String, CreditSnapshot> states = new java.util.HashMap<>();
      for (int i = 0; i < ordered.size(); i++) {
        if (outcomes.get(i) instanceof Applied applied) {
          states.merge(ordered.get(i).request().accountId(), applied.account().snapshot(),
              (a, b) -> a.version() >= b.version() ? a : b);
        }
      }
      states.forEach((account, state) -> remember(account, state.version(), state.availableCredit()));
      cacheSync.publishAll(states);
      for (int i = 0; i < ordered.size(); i++) {
        PendingCharge p = ordered.get(i);
        Object outcome = outcomes.get(i);
        if (outcome instanceof Applied applied) {
          finish(p, chargeResult(applied, p.request(), p.quote()), null);
        } else {
          finish(p, null, (RuntimeException) outcome);
        }
      }
    }

    private void complete(PendingCharge p) {
      ChargeResult result;
      try {
        result = applyChargeAlone(p.request(), p.quote());
      } catch (RuntimeException e) {
        finish(p, null, e);
        return;
      }
      finish(p, result, null);
    }

    /**
     * Lets the committers write what is queued (bounded by the commit wait), then stops them.
     * Queued charges still unwritten stay in the journal and are replayed at the next start.
     */
    void stop() {
      long drainDeadline = System.nanoTime() + waitNanos;
      while (!queue.isEmpty() && System.nanoTime() - drainDeadline < 0) {
        LockSupport.parkNanos(5_000_000);
      }
      stopped = true;
      for (Thread t : committers) {
        try {
          t.join(Math.max(1, waitNanos / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      PendingCharge pending;
      while ((pending = queue.poll()) != null) {
        fail(pending);
      }
    }

    private void fail(PendingCharge pending) {
      if (pending.ticket() != null) {
        return;
      }
      if (pending.result().completeExceptionally(new LedgerUnavailableException("the ledger is closing", null))) {
        LockSupport.unpark(pending.waiter());
      }
    }
  }

  private ChargeResult spool(ChargeRequest request, Quote quote, LedgerUnavailableException cause) {
    try {
      spool.append(new SpoolRecord(clock.instant(), request, quote));
    } catch (RuntimeException e) {
      LedgerUnavailableException failure = new LedgerUnavailableException("charge " + request.eventId()
          + " could not be written to the database nor to the spool", e);
      if (cause != null) {
        failure.addSuppressed(cause);
      }
      throw failure;
    }
    spooled.incrementAndGet();
    if (cause != null) {
      LOG.warn("ledger database unavailable, charge spooled, account_id={} event_id={}: {}", request.accountId(),
          request.eventId(), cause.getMessage());
    }
    return new ChargeResult(ChargeResult.Status.SPOOLED, null, quote);
  }

  /**
   * Writes the spooled charges to the database now, oldest first, and returns how many are still
   * pending. The background task does the same every replay interval; a record the database refuses
   * (an idempotency conflict) moves to the spool directory's rejected file.
   */
  public int replaySpool() {
    ensureOpen();
    replayLock.lock();
    try {
      List<SpoolRecord> done = new ArrayList<>();
      try {
        for (SpoolRecord record : spool.pending()) {
          try {
            Quote quote = record.quote() != null ? record.quote()
                : quoteFor(record.request().scene(), record.request().provider(), record.request().model(),
                    record.request().usage());
            applyCharge(record.request(), quote);
            replayed.incrementAndGet();
          } catch (IdempotencyConflictException | IllegalArgumentException | AccountNotFoundException e) {
            rejected.incrementAndGet();
            LOG.error("spooled charge rejected by the ledger, kept in {}: account_id={} event_id={}: {}",
                ChargeSpool.REJECTED_FILE, record.request().accountId(), record.request().eventId(), e.getMessage());
            spool.reject(record, e.getMessage());
          } catch (LedgerUnavailableException e) {
            throw e;
          } catch (RuntimeException e) {
            // Any other failure is retried on later passes, but one poisoned record must never hold up
            // every charge behind it forever: after MAX_REPLAY_ATTEMPTS it is set aside for an operator.
            int attempts = replayAttempts.merge(record, 1, Integer::sum);
            if (attempts < MAX_REPLAY_ATTEMPTS) {
              LOG.warn("spooled charge replay failed (attempt {} of {}), account_id={} event_id={}: {}", attempts,
                  MAX_REPLAY_ATTEMPTS, record.request().accountId(), record.request().eventId(), e.toString());
              continue;
            }
            rejected.incrementAndGet();
            LOG.error("spooled charge failed {} replays, kept in {}: account_id={} event_id={}: {}", attempts,
                ChargeSpool.REJECTED_FILE, record.request().accountId(), record.request().eventId(), e.toString());
            spool.reject(record, "replay failed " + attempts + " times: " + e);
          }
          replayAttempts.remove(record);
          done.add(record);
        }
      } catch (LedgerUnavailableException e) {
        LOG.debug("spool replay paused, database unavailable: {}", e.getMessage());
      } finally {
        if (!done.isEmpty()) {
          spool.remove(done);
          LOG.info("spool replay wrote {} charges, {} pending", done.size(), spool.size());
        }
      }
      return spool.size();
    } finally {
      replayLock.unlock();
    }
  }

  private void replayQuietly() {
    if (closed.get() || spool.isEmpty()) {
      return;
    }
    try {
      replaySpool();
    } catch (RuntimeException e) {
      LOG.warn("spool replay failed: {}", e.toString());
    }
  }

  /** An entry a batch will insert, and where its outcome goes. */
  private record BatchInsert(int slot, String accountId, String eventId, Change change, long balanceAfter) {
  }

  /** In a batch, a charge that repeats an earlier charge of the same batch. */
  private record SameAsSlot(int slot, Account account) {
  }

  /**
   * Applies a batch of charges (sorted by account) with a fixed number of statements whatever its
   * size: lock the accounts, read the entries of their event ids, compute every new state in
   * memory, then one batched update and one batched insert. Returns, per charge, an {@link Applied}
   * or the exception that refused it (refused before anything was written for it).
   */
  private List<Object> applyBatch(Connection c, List<PendingCharge> ordered, boolean lookFirst) throws SQLException {
    Instant now = now();
    List<String> ids = ordered.stream().map(p -> p.request().accountId()).distinct().toList();
    java.util.Map<String, Account> original = lockAccounts(c, ids);
    if (original.size() < ids.size()) {
      List<String> missing = ids.stream().filter(id -> !original.containsKey(id)).toList();
      try (PreparedStatement s = prepare(c, "INSERT INTO accounts (" + ACCOUNT_COLUMNS
          + ") VALUES (?, 0, ?, 0, 0, 0, 0, ?, ?) ON CONFLICT (id) DO NOTHING")) {
        for (String id : missing) {
          s.setString(1, id);
          s.setBoolean(2, false);
          dialect.setInstant(s, 3, now);
          dialect.setInstant(s, 4, now);
          s.addBatch();
        }
        s.executeBatch();
      }
      original.putAll(lockAccounts(c, missing));
    }
    java.util.Map<String, StoredEntry> stored;
    if (lookFirst) {
      stored = findEntries(c, ordered);
      if (stored.isEmpty()) {
        lookUpStoredFirst = false;
      }
    } else {
      // Nearly every charge is new: its entry is inserted without looking first, and a conflict
      // on insert (EntryAlreadyStored) rolls the batch back to be applied again looking first.
      stored = new java.util.HashMap<>();
    }
    java.util.Map<String, Account> current = new java.util.HashMap<>(original);
    java.util.Map<String, Integer> insertedSlot = new java.util.HashMap<>();
    List<Object> results = new ArrayList<>(ordered.size());
    List<BatchInsert> inserts = new ArrayList<>();
    for (PendingCharge p : ordered) {
      String accountId = p.request().accountId();
      String eventId = p.request().eventId();
      String key = accountId + '\n' + eventId;
      Change change = Change.charge(p.request(), p.quote());
      Account account = current.get(accountId);
      StoredEntry existing = stored.get(key);
      if (existing != null) {
        String difference = change.differenceFrom(existing);
        Integer slot = insertedSlot.get(key);
        if (difference != null) {
          results.add(new IdempotencyConflictException(accountId, eventId, difference));
        } else if (slot != null) {
          results.add(new SameAsSlot(slot, account));
        } else {
          results.add(new Applied(existing.entry(), account, true));
        }
        continue;
      }
      long balance;
      long consumed;
      try {
        balance = addExact(account.balance(), change.amount(), "balance", change, accountId);
        consumed = addExact(account.consumed(), -change.amount(), "consumed total", change, accountId);
      } catch (IllegalArgumentException e) {
        results.add(e);
        continue;
      }
      current.put(accountId, new Account(accountId, balance, account.blocked(), account.version() + 1,
          account.granted(), consumed, account.refunded(), account.createdAt(), now));
      int slot = results.size();
      results.add(null);
      inserts.add(new BatchInsert(slot, accountId, eventId, change, balance));
      insertedSlot.put(key, slot);
      stored.put(key, new StoredEntry(new LedgerEntry(0, accountId, eventId, EntryKind.CHARGE, change.amount(),
          balance, change.requestId(), change.scene(), change.model(), change.usage(), change.costMicros(),
          change.priceRuleId(), change.unpriced(), change.estimated(), change.actor(), change.reason(),
          change.metadata(), now), change.provider(), null));
    }
    if (inserts.isEmpty()) {
      return results;
    }
    try (PreparedStatement s = prepare(c, "UPDATE accounts SET balance = ?, version = ?, consumed = ?, "
        + "updated_at = ? WHERE id = ? AND version = ?")) {
      for (String id : ids) {
        Account before = original.get(id);
        Account after = current.get(id);
        if (after.version() == before.version()) {
          continue;
        }
        s.setLong(1, after.balance());
        s.setLong(2, after.version());
        s.setLong(3, after.consumed());
        dialect.setInstant(s, 4, now);
        s.setString(5, id);
        s.setLong(6, before.version());
        s.addBatch();
      }
      for (int count : s.executeBatch()) {
        if (count != 1 && count != Statement.SUCCESS_NO_INFO) {
          throw new IllegalStateException("an account of the batch changed under its lock");
        }
      }
    }
    long[] entryIds = insertEntries(c, inserts, now);
    for (int i = 0; i < inserts.size(); i++) {
      BatchInsert insert = inserts.get(i);
      Change ch = insert.change();
      LedgerEntry entry = new LedgerEntry(entryIds[i], insert.accountId(), insert.eventId(), ch.kind(), ch.amount(),
          insert.balanceAfter(), ch.requestId(), ch.scene(), ch.model(), ch.usage(), ch.costMicros(),
          ch.priceRuleId(), ch.unpriced(), ch.estimated(), ch.actor(), ch.reason(), ch.metadata(), now);
      results.set(insert.slot(), new Applied(entry, current.get(insert.accountId()), false));
    }
    for (int i = 0; i < results.size(); i++) {
      if (results.get(i) instanceof SameAsSlot same) {
        Applied first = (Applied) results.get(same.slot());
        results.set(i, new Applied(first.entry(), current.get(first.entry().accountId()), true));
      }
    }
    return results;
  }

  private java.util.Map<String, Account> lockAccounts(Connection c, List<String> ids) throws SQLException {
    java.util.Map<String, Account> found = new java.util.HashMap<>();
    String marks = String.join(", ", java.util.Collections.nCopies(ids.size(), "?"));
    try (PreparedStatement s = prepare(c, "SELECT " + ACCOUNT_COLUMNS + " FROM accounts WHERE id IN (" + marks
        + ") ORDER BY id" + dialect.lockClause())) {
      for (int i = 0; i < ids.size(); i++) {
        s.setString(i + 1, ids.get(i));
      }
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          Account account = readAccount(rows);
          found.put(account.id(), account);
        }
      }
    }
    return found;
  }

  private java.util.Map<String, StoredEntry> findEntries(Connection c, List<PendingCharge> charges)
      throws SQLException {
    List<String> accounts = charges.stream().map(p -> p.request().accountId()).distinct().toList();
    List<String> events = charges.stream().map(p -> p.request().eventId()).distinct().toList();
    java.util.Set<String> wanted = new java.util.HashSet<>();
    for (PendingCharge p : charges) {
      wanted.add(p.request().accountId() + '\n' + p.request().eventId());
    }
    java.util.Map<String, StoredEntry> found = new java.util.HashMap<>();
    try (PreparedStatement s = prepare(c, "SELECT " + ENTRY_COLUMNS + " FROM entries WHERE account_id IN ("
        + String.join(", ", java.util.Collections.nCopies(accounts.size(), "?")) + ") AND event_id IN ("
        + String.join(", ", java.util.Collections.nCopies(events.size(), "?")) + ")")) {
      int index = 1;
      for (String account : accounts) {
        s.setString(index++, account);
      }
      for (String event : events) {
        s.setString(index++, event);
      }
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          StoredEntry entry = readEntry(rows);
          String key = entry.entry().accountId() + '\n' + entry.entry().eventId();
          if (wanted.contains(key)) {
            found.put(key, entry);
          }
        }
      }
    }
    return found;
  }

  private static final String INSERT_ENTRY = "INSERT INTO entries (account_id, event_id, kind, amount, "
      + "balance_after, request_id, scene, provider, model, input_tokens, output_tokens, cached_tokens, "
      + "reasoning_tokens, cost_micros, price_rule_id, unpriced, estimated, ref_event_id, actor, reason, metadata, "
      + "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  private static final String INSERT_NEW_ENTRY = INSERT_ENTRY + " ON CONFLICT (account_id, event_id) DO NOTHING";

  /**
   * Whether a batch reads its charges' stored entries before writing (set after a batch met one,
   * cleared after a batch that looked and found none): replays meet their entries, new charges do not.
   */
  private volatile boolean lookUpStoredFirst;

  /** A batch's entry was already stored: the batch is rolled back and applied again, looking first. */
  private static final class EntryAlreadyStored extends RuntimeException {
    private static final long serialVersionUID = 1L;

    EntryAlreadyStored() {
      super("an entry of the batch was already stored", null, false, false);
    }
  }

  /**
   * Inserts the entries and returns their ids: one pipelined batch on PostgreSQL, a loop in-process
   * on SQLite.
   *
   * @throws EntryAlreadyStored when an entry with the same account and event id exists (nothing of
   *     the batch may then be committed)
   */
  private long[] insertEntries(Connection c, List<BatchInsert> inserts, Instant now) throws SQLException {
    long[] ids = new long[inserts.size()];
    if (dialect == Dialect.POSTGRESQL) {
      try (PreparedStatement s = c.prepareStatement(INSERT_NEW_ENTRY, new String[] {"id"})) {
        for (BatchInsert insert : inserts) {
          bindEntry(s, insert.accountId(), insert.eventId(), insert.change(), insert.balanceAfter(), now);
          s.addBatch();
        }
        s.executeBatch();
        try (ResultSet keys = s.getGeneratedKeys()) {
          for (int i = 0; i < ids.length; i++) {
            if (!keys.next()) {
              throw new EntryAlreadyStored();
            }
            ids[i] = keys.getLong(1);
          }
        }
      }
      return ids;
    }
    try (PreparedStatement s = prepare(c, INSERT_NEW_ENTRY + " RETURNING id")) {
      for (int i = 0; i < ids.length; i++) {
        BatchInsert insert = inserts.get(i);
        bindEntry(s, insert.accountId(), insert.eventId(), insert.change(), insert.balanceAfter(), now);
        try (ResultSet rows = s.executeQuery()) {
          if (!rows.next()) {
            throw new EntryAlreadyStored();
          }
          ids[i] = rows.getLong(1);
        }
      }
    }
    return ids;
  }

  private void bindEntry(PreparedStatement s, String accountId, String eventId, Change ch, long balanceAfter,
      Instant now) throws SQLException {
    s.setString(1, accountId);
    s.setString(2, eventId);
    s.setString(3, ch.kind().name());
    s.setLong(4, ch.amount());
    s.setLong(5, balanceAfter);
    s.setString(6, ch.requestId());
    s.setString(7, ch.scene());
    s.setString(8, ch.provider());
    s.setString(9, ch.model());
    s.setLong(10, ch.usage().inputTokens());
    s.setLong(11, ch.usage().outputTokens());
    s.setLong(12, ch.usage().cachedTokens());
    s.setLong(13, ch.usage().reasoningTokens());
    s.setLong(14, ch.costMicros());
    s.setLong(15, ch.priceRuleId());
    s.setBoolean(16, ch.unpriced());
    s.setBoolean(17, ch.estimated());
    s.setString(18, ch.refEventId());
    s.setString(19, ch.actor());
    s.setString(20, ch.reason());
    s.setString(21, ch.metadata());
    dialect.setInstant(s, 22, now);
  }

  /** Runs one change in one transaction, retrying when a concurrent insert of the same key won. */
  private Applied apply(String accountId, String eventId, boolean create, Change change) {
    ensureOpen();
    return applyWhileOpen(accountId, eventId, create, change);
  }

  /** {@link #apply} without the closed check: for the committers, which finish their batch while the ledger closes. */
  private Applied applyWhileOpen(String accountId, String eventId, boolean create, Change change) {
    for (int attempt = 1; ; attempt++) {
      try {
        Applied applied = transaction(c -> applyIn(c, accountId, eventId, create, change));
        remember(accountId, applied.account().version(), applied.account().balance());
        // Also on a replay: the first attempt may have committed without reaching the cache (a lost
        // commit acknowledgement, a spooled charge already applied). The write is versioned, so a
        // repeat is harmless.
        cacheSync.publish(accountId, applied.account().snapshot());
        return applied;
      } catch (UniqueRace race) {
        if (attempt >= UNIQUE_RACE_ATTEMPTS) {
          throw new IllegalStateException("event id '" + eventId + "' of account '" + accountId
              + "' kept colliding with concurrent inserts", race.getCause());
        }
      }
    }
  }

  private Applied applyIn(Connection c, String accountId, String eventId, boolean create, Change change)
      throws SQLException {
    Instant now = now();
    Account account = lockAccount(c, accountId, create, now);
    StoredEntry existing = findEntry(c, accountId, eventId);
    if (existing != null) {
      String difference = change.differenceFrom(existing);
      if (difference != null) {
        throw new IdempotencyConflictException(accountId, eventId, difference);
      }
      return new Applied(existing.entry(), account, true);
    }
    if (change.kind() == EntryKind.REFUND) {
      checkRefund(c, accountId, change);
    }
    long balance = addExact(account.balance(), change.amount(), "balance", change, accountId);
    long granted = account.granted();
    long consumed = account.consumed();
    long refunded = account.refunded();
    switch (change.kind()) {
      case GRANT -> granted = addExact(granted, change.amount(), "granted total", change, accountId);
      case CHARGE -> consumed = addExact(consumed, -change.amount(), "consumed total", change, accountId);
      case REFUND -> refunded = addExact(refunded, change.amount(), "refunded total", change, accountId);
      default -> { }
    }
    boolean blocked = switch (change.kind()) {
      case BLOCK -> true;
      case UNBLOCK -> false;
      default -> account.blocked();
    };
    Account updated = new Account(accountId, balance, blocked, account.version() + 1, granted, consumed, refunded,
        account.createdAt(), now);
    try (PreparedStatement s = prepare(c, "UPDATE accounts SET balance = ?, blocked = ?, version = ?, granted = ?, "
        + "consumed = ?, refunded = ?, updated_at = ? WHERE id = ? AND version = ?")) {
      s.setLong(1, balance);
      s.setBoolean(2, blocked);
      s.setLong(3, updated.version());
      s.setLong(4, granted);
      s.setLong(5, consumed);
      s.setLong(6, refunded);
      dialect.setInstant(s, 7, now);
      s.setString(8, accountId);
      s.setLong(9, account.version());
      if (s.executeUpdate() != 1) {
        // The row is locked by this transaction; a miss means something outside the ledger changed it.
        throw new IllegalStateException("account '" + accountId + "' changed under its lock (version "
            + account.version() + ")");
      }
    }
    LedgerEntry entry = insertEntry(c, accountId, eventId, change, balance, now);
    return new Applied(entry, updated, false);
  }

  private static long addExact(long value, long delta, String what, Change change, String accountId) {
    try {
      return Math.addExact(value, delta);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(change.kind().name().toLowerCase(java.util.Locale.ROOT) + " of "
          + Math.abs(delta) + " credits would overflow the " + what + " of account '" + accountId + "' (" + value + ")");
    }
  }

  private void checkRefund(Connection c, String accountId, Change change) throws SQLException {
    StoredEntry charge = findEntry(c, accountId, change.refEventId());
    if (charge == null || charge.entry().kind() != EntryKind.CHARGE) {
      throw new IllegalArgumentException("chargeEventId '" + change.refEventId() + "' is not a charge of account '"
          + accountId + "'");
    }
    long charged = -charge.entry().amount();
    long refundedSoFar;
    try (PreparedStatement s = prepare(c, "SELECT COALESCE(SUM(amount), 0) FROM entries "
        + "WHERE account_id = ? AND ref_event_id = ? AND kind = 'REFUND'")) {
      s.setString(1, accountId);
      s.setString(2, change.refEventId());
      try (ResultSet rows = s.executeQuery()) {
        rows.next();
        refundedSoFar = rows.getLong(1);
      }
    }
    long refundable = charged - refundedSoFar;
    if (change.amount() > refundable) {
      throw new IllegalArgumentException("refund amount " + change.amount() + " exceeds the " + refundable
          + " credits of charge '" + change.refEventId() + "' not yet refunded (charged " + charged + ", refunded "
          + refundedSoFar + ")");
    }
  }

  /** Reads the account row with a lock for the rest of the transaction, creating it first if asked. */
  private Account lockAccount(Connection c, String accountId, boolean create, Instant now) throws SQLException {
    String select = "SELECT " + ACCOUNT_COLUMNS + " FROM accounts WHERE id = ?" + dialect.lockClause();
    try (PreparedStatement s = prepare(c, select)) {
      s.setString(1, accountId);
      try (ResultSet rows = s.executeQuery()) {
        if (rows.next()) {
          return readAccount(rows);
        }
      }
    }
    if (!create) {
      throw new AccountNotFoundException(accountId);
    }
    try (PreparedStatement s = prepare(c, "INSERT INTO accounts (" + ACCOUNT_COLUMNS
        + ") VALUES (?, 0, ?, 0, 0, 0, 0, ?, ?) ON CONFLICT (id) DO NOTHING")) {
      s.setString(1, accountId);
      s.setBoolean(2, false);
      dialect.setInstant(s, 3, now);
      dialect.setInstant(s, 4, now);
      s.executeUpdate();
    }
    try (PreparedStatement s = prepare(c, select)) {
      s.setString(1, accountId);
      try (ResultSet rows = s.executeQuery()) {
        if (!rows.next()) {
          throw new IllegalStateException("account '" + accountId + "' vanished right after it was created");
        }
        return readAccount(rows);
      }
    }
  }

  private LedgerEntry insertEntry(Connection c, String accountId, String eventId, Change ch, long balanceAfter,
      Instant now) throws SQLException {
    try (PreparedStatement s = prepare(c, INSERT_ENTRY + " RETURNING id")) {
      bindEntry(s, accountId, eventId, ch, balanceAfter, now);
      long id;
      try (ResultSet rows = s.executeQuery()) {
        rows.next();
        id = rows.getLong(1);
      }
      return new LedgerEntry(id, accountId, eventId, ch.kind(), ch.amount(), balanceAfter, ch.requestId(), ch.scene(),
          ch.model(), ch.usage(), ch.costMicros(), ch.priceRuleId(), ch.unpriced(), ch.estimated(), ch.actor(),
          ch.reason(), ch.metadata(), now);
    }
  }

  private StoredEntry findEntry(Connection c, String accountId, String eventId) throws SQLException {
    try (PreparedStatement s = prepare(c,
        "SELECT " + ENTRY_COLUMNS + " FROM entries WHERE account_id = ? AND event_id = ?")) {
      s.setString(1, accountId);
      s.setString(2, eventId);
      try (ResultSet rows = s.executeQuery()) {
        return rows.next() ? readEntry(rows) : null;
      }
    }
  }

  // ---------------------------------------------------------------- entries

  @Override
  public Page<LedgerEntry> entries(String accountId, String cursor, int limit) {
    BillingContext.requireValidAccountId(accountId);
    requireLimit(limit);
    long before = parseEntryCursor(cursor);
    awaitOwnCharges(accountId);
    return read(c -> {
      List<LedgerEntry> items = new ArrayList<>();
      try (PreparedStatement s = prepare(c, "SELECT " + ENTRY_COLUMNS
          + " FROM entries WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?")) {
        s.setString(1, accountId);
        s.setLong(2, before);
        s.setInt(3, limit + 1);
        try (ResultSet rows = s.executeQuery()) {
          while (rows.next()) {
            items.add(readEntry(rows).entry());
          }
        }
      }
      if (items.size() <= limit) {
        return new Page<>(items, null);
      }
      List<LedgerEntry> page = items.subList(0, limit);
      return new Page<>(page, Long.toString(page.get(limit - 1).id()));
    });
  }

  private static long parseEntryCursor(String cursor) {
    if (cursor == null) {
      return Long.MAX_VALUE;
    }
    try {
      long value = Long.parseLong(cursor);
      if (value > 0) {
        return value;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("cursor must be a cursor returned by entries(), but was '" + cursor + "'");
  }

  @Override
  public Optional<LedgerEntry> entry(String accountId, String eventId) {
    BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    awaitOwnCharges(accountId);
    return read(c -> Optional.ofNullable(findEntry(c, accountId, eventId)).map(StoredEntry::entry));
  }

  @Override
  public boolean eventRecorded(String accountId, String eventId) {
    BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    // Queued and spooled charges first: they answer while the database is away.
    return queuedEvents.contains(key(accountId, eventId)) || spool.contains(accountId, eventId)
        || entry(accountId, eventId).isPresent();
  }

  // ---------------------------------------------------------------- price rules

  @Override
  public List<PriceRule> priceRules() {
    List<PriceRule> loaded = read(this::loadRules);
    rules = loaded;
    rulesLoadedAtMillis = clock.millis();
    return loaded;
  }

  private List<PriceRule> loadRules(Connection c) throws SQLException {
    List<PriceRule> loaded = new ArrayList<>();
    try (PreparedStatement s = prepare(c, "SELECT " + RULE_COLUMNS + " FROM price_rules ORDER BY priority DESC, id")) {
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          loaded.add(new PriceRule(rows.getLong("id"), rows.getString("scene"), rows.getString("provider"),
              rows.getString("model"), rows.getLong("input_price"), rows.getLong("output_price"),
              rows.getLong("cached_price"), rows.getLong("reasoning_price"), rows.getLong("credits_per_unit"),
              rows.getLong("markup_bps"), rows.getInt("priority"), rows.getBoolean("active")));
        }
      }
    }
    return List.copyOf(loaded);
  }

  @Override
  public PriceRule createPriceRule(PriceRule rule) {
    Objects.requireNonNull(rule, "rule");
    checkRuleFields(rule);
    Instant now = now();
    PriceRule created = transaction(c -> {
      try (PreparedStatement s = prepare(c, "INSERT INTO price_rules (scene, provider, model, input_price, "
          + "output_price, cached_price, reasoning_price, credits_per_unit, markup_bps, priority, active, created_at, "
          + "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")) {
        int next = bindRule(s, rule);
        dialect.setInstant(s, next, now);
        dialect.setInstant(s, next + 1, now);
        try (ResultSet rows = s.executeQuery()) {
          rows.next();
          return rule.withId(rows.getLong(1));
        }
      }
    });
    rules = null;
    return created;
  }

  @Override
  public PriceRule updatePriceRule(PriceRule rule) {
    Objects.requireNonNull(rule, "rule");
    if (rule.id() <= 0) {
      throw new IllegalArgumentException("rule.id must be the id of a stored rule, but was " + rule.id());
    }
    checkRuleFields(rule);
    Instant now = now();
    transaction(c -> {
      try (PreparedStatement s = prepare(c, "UPDATE price_rules SET scene = ?, provider = ?, model = ?, "
          + "input_price = ?, output_price = ?, cached_price = ?, reasoning_price = ?, credits_per_unit = ?, "
          + "markup_bps = ?, priority = ?, active = ?, updated_at = ? WHERE id = ?")) {
        int next = bindRule(s, rule);
        dialect.setInstant(s, next, now);
        s.setLong(next + 1, rule.id());
        if (s.executeUpdate() != 1) {
          throw new IllegalArgumentException("rule.id must be the id of a stored rule, but was " + rule.id());
        }
        return null;
      }
    });
    rules = null;
    return rule;
  }

  private static int bindRule(PreparedStatement s, PriceRule rule) throws SQLException {
    s.setString(1, rule.scene());
    s.setString(2, rule.provider());
    s.setString(3, rule.model());
    s.setLong(4, rule.inputPrice());
    s.setLong(5, rule.outputPrice());
    s.setLong(6, rule.cachedPrice());
    s.setLong(7, rule.reasoningPrice());
    s.setLong(8, rule.creditsPerUnit());
    s.setLong(9, rule.markupBps());
    s.setInt(10, rule.priority());
    s.setBoolean(11, rule.active());
    return 12;
  }

  private static void checkRuleFields(PriceRule rule) {
    requireLength("rule.scene", rule.scene(), MAX_FIELD_LENGTH);
    requireLength("rule.provider", rule.provider(), MAX_FIELD_LENGTH);
    requireLength("rule.model", rule.model(), MAX_FIELD_LENGTH);
  }

  @Override
  public Quote quote(String scene, String provider, String model, Usage usage) {
    Objects.requireNonNull(usage, "usage");
    return quoteFor(Objects.requireNonNullElse(scene, ""), Objects.requireNonNullElse(provider, ""),
        Objects.requireNonNullElse(model, ""), usage);
  }

  /** Prices with the cached rules, read again once they are older than the refresh interval. */
  private Quote quoteFor(String scene, String provider, String model, Usage usage) {
    List<PriceRule> current = currentRules();
    try {
      return Pricing.quote(current, scene, provider, model, usage);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("usage " + usage + " is too large to price for scene='" + scene
          + "' provider='" + provider + "' model='" + model + "'");
    }
  }

  private List<PriceRule> currentRules() {
    List<PriceRule> current = rules;
    if (current != null && clock.millis() - rulesLoadedAtMillis < priceRuleRefreshMillis) {
      return current;
    }
    try {
      return priceRules();
    } catch (LedgerUnavailableException e) {
      if (current == null) {
        throw e;
      }
      // Stale rules price better than no rules while the database is away.
      return current;
    }
  }

  // ---------------------------------------------------------------- verification

  @Override
  public VerifyResult verify(String accountId) {
    BillingContext.requireValidAccountId(accountId);
    awaitOwnCharges(accountId);
    return transaction(c -> verifyIn(c, lockAccount(c, accountId, false, now())));
  }

  private VerifyResult verifyIn(Connection c, Account account) throws SQLException {
    List<String> problems = new ArrayList<>();
    long count;
    long sum;
    long granted;
    long consumed;
    long refunded;
    try (PreparedStatement s = prepare(c, "SELECT COUNT(*), COALESCE(SUM(amount), 0), "
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
      problems.add("granted total " + account.granted() + " differs from the sum of grants " + granted);
    }
    if (consumed != account.consumed()) {
      problems.add("consumed total " + account.consumed() + " differs from the sum of charges " + consumed);
    }
    if (refunded != account.refunded()) {
      problems.add("refunded total " + account.refunded() + " differs from the sum of refunds " + refunded);
    }
    if (count != account.version()) {
      problems.add("version " + account.version() + " differs from the number of entries " + count);
    }
    try (PreparedStatement s = prepare(c, "SELECT COUNT(*) FROM (SELECT balance_after, SUM(amount) OVER "
        + "(ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM entries "
        + "WHERE account_id = ?) chain WHERE running <> balance_after")) {
      s.setString(1, account.id());
      try (ResultSet rows = s.executeQuery()) {
        rows.next();
        long broken = rows.getLong(1);
        if (broken != 0) {
          problems.add(broken + " entries have a balance_after that is not the running sum of amounts");
        }
      }
    }
    try (PreparedStatement s = prepare(c, "SELECT kind FROM entries WHERE account_id = ? "
        + "AND kind IN ('BLOCK', 'UNBLOCK') ORDER BY id DESC LIMIT 1")) {
      s.setString(1, account.id());
      try (ResultSet rows = s.executeQuery()) {
        boolean blockedByEntries = rows.next() && rows.getString(1).equals(EntryKind.BLOCK.name());
        if (blockedByEntries != account.blocked()) {
          problems.add("blocked flag " + account.blocked() + " differs from the last block/unblock entry");
        }
      }
    }
    return new VerifyResult(account.id(), problems.isEmpty(), account.balance(), sum, problems);
  }

  @Override
  public List<VerifyResult> verifyAll() {
    List<VerifyResult> inconsistent = new ArrayList<>();
    String cursor = null;
    do {
      Page<Account> page = accounts(cursor, MAX_PAGE_SIZE);
      for (Account account : page.items()) {
        VerifyResult result = verify(account.id());
        if (!result.consistent()) {
          inconsistent.add(result);
        }
      }
      cursor = page.nextCursor();
    } while (cursor != null);
    return inconsistent;
  }

  // ---------------------------------------------------------------- plumbing

  @FunctionalInterface
  private interface SqlWork<T> {
    T run(Connection connection) throws SQLException;
  }

  /** Thrown inside a transaction when a unique key was taken concurrently; the operation is retried. */
  private static final class UniqueRace extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UniqueRace(SQLException cause) {
      super(cause);
    }
  }

  private <T> T transaction(SqlWork<T> work) {
    if (dialect != Dialect.SQLITE) {
      return transactionOnce(work);
    }
    // SQLite has one writer at a time; its busy handler polls and is unfair, so under load a writer
    // can starve past the busy timeout. Queueing this process's writers fairly here leaves the busy
    // timeout to arbitrate only with other processes.
    try {
      if (!sqliteWriteLock.tryLock(statementTimeoutMillis, TimeUnit.MILLISECONDS)) {
        throw new LedgerUnavailableException("ledger database busy: no write turn within " + statementTimeoutMillis
            + " ms", null);
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

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      LOG.debug("closing a connection failed: {}", e.toString());
    }
  }

  private <T> T read(SqlWork<T> work) {
    ensureOpen();
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

  /**
   * Prepares a statement bounded by the statement timeout. PostgreSQL bounds every statement on the
   * server ({@code statement_timeout}, set per connection); SQLite through the driver.
   */
  private PreparedStatement prepare(Connection c, String sql) throws SQLException {
    PreparedStatement statement = c.prepareStatement(sql);
    if (dialect == Dialect.SQLITE) {
      statement.setQueryTimeout(queryTimeoutSeconds);
    }
    return statement;
  }

  private RuntimeException translate(SQLException e) {
    if (SqlErrors.isUniqueViolation(e)) {
      return new UniqueRace(e);
    }
    if (SqlErrors.isUnavailable(e)) {
      return new LedgerUnavailableException("ledger database unavailable: " + e.getMessage(), e);
    }
    if (SqlErrors.isBadValue(e)) {
      // The driver's text can quote SQL and internal names: log it, keep it out of the message callers show.
      LOG.warn("ledger database refused a value: {}", e.getMessage());
      return new IllegalArgumentException("the ledger database refused a value (SQLState " + e.getSQLState() + ")", e);
    }
    return new IllegalStateException("ledger database error: " + e.getMessage(), e);
  }

  private Instant now() {
    return Dialect.truncate(clock.instant());
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new IllegalStateException("the ledger is closed");
    }
  }

  private Account readAccount(ResultSet rows) throws SQLException {
    return new Account(rows.getString("id"), rows.getLong("balance"), rows.getBoolean("blocked"),
        rows.getLong("version"), rows.getLong("granted"), rows.getLong("consumed"), rows.getLong("refunded"),
        dialect.getInstant(rows, "created_at"), dialect.getInstant(rows, "updated_at"));
  }

  private StoredEntry readEntry(ResultSet rows) throws SQLException {
    Usage usage = new Usage(rows.getLong("input_tokens"), rows.getLong("output_tokens"),
        rows.getLong("cached_tokens"), rows.getLong("reasoning_tokens"));
    LedgerEntry entry = new LedgerEntry(rows.getLong("id"), rows.getString("account_id"), rows.getString("event_id"),
        EntryKind.valueOf(rows.getString("kind")), rows.getLong("amount"), rows.getLong("balance_after"),
        rows.getString("request_id"), rows.getString("scene"), rows.getString("model"), usage,
        rows.getLong("cost_micros"), rows.getLong("price_rule_id"), rows.getBoolean("unpriced"),
        rows.getBoolean("estimated"), rows.getString("actor"), rows.getString("reason"), rows.getString("metadata"),
        dialect.getInstant(rows, "created_at"));
    return new StoredEntry(entry, rows.getString("provider"), rows.getString("ref_event_id"));
  }

  private static void checkCommon(String accountId, String eventId, String actor, String reason) {
    BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    requireLength("actor", actor, MAX_FIELD_LENGTH);
    requireLength("reason", reason, MAX_REASON_LENGTH);
  }

  private static void checkCharge(ChargeRequest r) {
    requireLength("requestId", r.requestId(), MAX_FIELD_LENGTH);
    requireLength("scene", r.scene(), MAX_FIELD_LENGTH);
    requireLength("provider", r.provider(), MAX_FIELD_LENGTH);
    requireLength("model", r.model(), MAX_FIELD_LENGTH);
    String metadata = r.metadata().strip();
    if (r.metadata().length() > MAX_METADATA_LENGTH || !metadata.startsWith("{") || !metadata.endsWith("}")) {
      throw new IllegalArgumentException("metadata must be a JSON object of at most " + MAX_METADATA_LENGTH
          + " characters, but was '" + abbreviate(r.metadata()) + "'");
    }
  }

  private static void requireLength(String name, String value, int max) {
    if (value != null && value.length() > max) {
      throw new IllegalArgumentException(name + " must be at most " + max + " characters, but was '"
          + abbreviate(value) + "' (" + value.length() + " characters)");
    }
  }

  private static String abbreviate(String value) {
    return value.length() > 80 ? value.substring(0, 80) + "..." : value;
  }

  private static void requireLimit(int limit) {
    if (limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new IllegalArgumentException("limit must be between 1 and " + MAX_PAGE_SIZE + ", but was " + limit);
    }
  }

  /** Stops the replay task, releases the spool and closes the pool. Pending spooled charges stay on disk. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (batcher != null) {
      batcher.stop();
    }
    if (journal != null) {
      journal.close();
    }
    scheduler.shutdown();
    try {
      if (!scheduler.awaitTermination(10, TimeUnit.SECONDS)) {
        scheduler.shutdownNow();
      }
    } catch (InterruptedException e) {
      scheduler.shutdownNow();
      Thread.currentThread().interrupt();
    }
    spool.close();
    dataSource.close();
  }

  private record Applied(LedgerEntry entry, Account account, boolean replayed) {
  }

  /**
   * Options for a {@link JdbcCreditLedger}. Every option has a named default; each setter validates
   * its value and names it in the error.
   */
  public static final class Builder {
    private String jdbcUrl = DEFAULT_JDBC_URL;
    private String username;
    private String password;
    private CreditCache cache;
    private Duration cacheSnapshotTtl = CreditBalanceGuard.DEFAULT_SNAPSHOT_TTL;
    private Duration cacheBlockedTtl = CreditBalanceGuard.DEFAULT_BLOCKED_TTL;
    private Duration cacheTimeout = DEFAULT_CACHE_TIMEOUT;
    private Path spoolDirectory = DEFAULT_SPOOL_DIRECTORY;
    private Duration statementTimeout = DEFAULT_STATEMENT_TIMEOUT;
    private Duration connectionTimeout = DEFAULT_CONNECTION_TIMEOUT;
    private int poolSize = DEFAULT_POOL_SIZE;
    private Duration replayInterval = DEFAULT_REPLAY_INTERVAL;
    private Duration priceRuleRefresh = DEFAULT_PRICE_RULE_REFRESH;
    private Clock clock = Clock.systemUTC();
    private boolean migrate = true;
    private int chargeBatchSize = DEFAULT_CHARGE_BATCH_SIZE;
    private boolean writeBehind;

    private Builder() {
    }

    /** {@code jdbc:postgresql:...} or {@code jdbc:sqlite:<file>}; default {@link #DEFAULT_JDBC_URL}. */
    public Builder jdbcUrl(String jdbcUrl) {
      Dialect.of(jdbcUrl);
      this.jdbcUrl = jdbcUrl;
      return this;
    }

    public Builder username(String username) {
      this.username = username;
      return this;
    }

    public Builder password(String password) {
      this.password = password;
      return this;
    }

    /** The guard's cache to keep coherent with the ledger; none by default. */
    public Builder cache(CreditCache cache) {
      this.cache = cache;
      return this;
    }

    /** How long snapshots the ledger writes to the cache live; the guard's default. */
    public Builder cacheSnapshotTtl(Duration ttl) {
      this.cacheSnapshotTtl = requirePositive("cacheSnapshotTtl", ttl);
      return this;
    }

    /** How long blocked markers the ledger writes to the cache live; the guard's default. */
    public Builder cacheBlockedTtl(Duration ttl) {
      this.cacheBlockedTtl = requirePositive("cacheBlockedTtl", ttl);
      return this;
    }

    public Builder cacheTimeout(Duration timeout) {
      this.cacheTimeout = requirePositive("cacheTimeout", timeout);
      return this;
    }

    /** Where charges the database cannot take are spooled; one ledger process per directory. */
    public Builder spoolDirectory(Path directory) {
      this.spoolDirectory = Objects.requireNonNull(directory, "spoolDirectory");
      return this;
    }

    public Builder statementTimeout(Duration timeout) {
      this.statementTimeout = requirePositive("statementTimeout", timeout);
      return this;
    }

    /** How long an operation waits for a pooled connection; at least 250 ms (HikariCP's floor). */
    public Builder connectionTimeout(Duration timeout) {
      if (timeout == null || timeout.toMillis() < 250) {
        throw new IllegalArgumentException("connectionTimeout must be at least 250 ms, but was " + timeout);
      }
      this.connectionTimeout = timeout;
      return this;
    }

    public Builder poolSize(int poolSize) {
      if (poolSize < 1 || poolSize > 1000) {
        throw new IllegalArgumentException("poolSize must be between 1 and 1000, but was " + poolSize);
      }
      this.poolSize = poolSize;
      return this;
    }

    public Builder replayInterval(Duration interval) {
      this.replayInterval = requirePositive("replayInterval", interval);
      return this;
    }

    public Builder priceRuleRefresh(Duration refresh) {
      this.priceRuleRefresh = requirePositive("priceRuleRefresh", refresh);
      return this;
    }

    /** The time source for timestamps and the replay lag; tests pass a fixed or stepping clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * The most charges written in one transaction by group commit (default
     * {@link #DEFAULT_CHARGE_BATCH_SIZE}); 1 writes every charge in a transaction of its own on the
     * caller's thread.
     */
    public Builder chargeBatchSize(int size) {
      if (size < 1 || size > 10_000) {
        throw new IllegalArgumentException("chargeBatchSize must be between 1 and 10000, but was " + size);
      }
      this.chargeBatchSize = size;
      return this;
    }

    /**
     * Write-behind (default false): {@link #charge} journals the charge in the spool directory
     * ({@code write(2)}, no fsync: it survives a crash of the process) and returns
     * {@link ChargeResult.Status#QUEUED}; group commit writes it to the database in the background.
     * {@link #intend} journals a call's estimate, fsync'd while the call runs, which is charged
     * instead should a power loss take the charge's record. Reads of an account wait (up to a
     * second) for its queued charges. Needs group commit ({@link #chargeBatchSize} above 1).
     */
    public Builder writeBehind(boolean writeBehind) {
      this.writeBehind = writeBehind;
      return this;
    }

    /** Whether {@link #build()} brings the schema up to date (default true). */
    public Builder migrate(boolean migrate) {
      this.migrate = migrate;
      return this;
    }

    /**
     * Opens the pool, migrates the schema (unless turned off), opens the spool and starts replaying it.
     *
     * @throws LedgerUnavailableException when the migration cannot reach the database
     * @throws IllegalStateException when another ledger holds the spool directory
     */
    public JdbcCreditLedger build() {
      if (writeBehind && chargeBatchSize < 2) {
        throw new IllegalArgumentException("writeBehind needs group commit: chargeBatchSize must be above 1, but was "
            + chargeBatchSize);
      }
      return new JdbcCreditLedger(this);
    }

    private static Duration requirePositive(String name, Duration value) {
      if (value == null || value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + " must be positive, but was " + value);
      }
      return value;
    }
  }
}

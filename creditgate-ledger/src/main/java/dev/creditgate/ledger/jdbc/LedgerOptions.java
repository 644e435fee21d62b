package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.LedgerCommitListener;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/**
 * The options a {@link JdbcCreditLedger} runs with, immutable once built by {@link
 * JdbcCreditLedgerBuilder}, which validates each value when it is set. Every option has a named
 * default here.
 */
public final class LedgerOptions {

  /** The embedded default: a SQLite file under {@code ./data}. */
  public static final String DEFAULT_JDBC_URL = "jdbc:sqlite:./data/creditgate.db";

  public static final Path DEFAULT_SPOOL_DIRECTORY = Path.of("data", "spool");

  /** How many charges the spool holds while the database is away. */
  public static final int DEFAULT_SPOOL_CAPACITY = ChargeSpool.DEFAULT_CAPACITY;

  public static final Duration DEFAULT_STATEMENT_TIMEOUT = Duration.ofSeconds(5);

  /** How long an operation waits for a pooled connection; a dead database is noticed this fast. */
  public static final Duration DEFAULT_CONNECTION_TIMEOUT = Duration.ofSeconds(2);

  /** The shortest connection timeout HikariCP accepts. */
  public static final Duration MIN_CONNECTION_TIMEOUT = Duration.ofMillis(250);

  public static final int DEFAULT_POOL_SIZE = 8;
  public static final int MAX_POOL_SIZE = 1000;

  /** How often the spool is replayed while it holds charges. */
  public static final Duration DEFAULT_REPLAY_INTERVAL = Duration.ofSeconds(1);

  /** How long price rules read from the database are used before they are read again. */
  public static final Duration DEFAULT_PRICE_RULE_REFRESH = Duration.ofSeconds(10);

  /** The largest unpriced fallback accepted: as a price rule's largest price. */
  public static final long MAX_UNPRICED_FALLBACK = dev.creditgate.pricing.PriceRule.MAX_PRICE;

  /** The most charges group commit writes in one transaction. */
  public static final int DEFAULT_CHARGE_BATCH_SIZE = 64;

  public static final int MAX_CHARGE_BATCH_SIZE = 10_000;

  /**
   * How often the write-behind journal starts a new file (a file goes once all its charges are
   * written).
   */
  static final long JOURNAL_ROLL_MILLIS = 5000;

  /** The shortest time between two journal fsyncs when no call waits for one. */
  static final long JOURNAL_SYNC_INTERVAL_MICROS = 5000;

  /**
   * Write-behind: how long a committer lets queued charges gather after the first before it writes
   * them. Nobody waits for a queued charge's commit (its journal record keeps it), so a few
   * milliseconds buy batches several times larger: fewer transactions, fsyncs and statement
   * preparations per charge, which is most of the ledger's CPU.
   */
  static final Duration WRITE_BEHIND_LINGER = Duration.ofMillis(50);

  /** The longest a read waits for the account's own queued charges. */
  static final Duration MAX_READ_YOUR_CHARGES_WAIT = Duration.ofSeconds(1);

  private final String jdbcUrl;
  private final String username;
  private final String password;
  private final Path spoolDirectory;
  private final int spoolCapacity;
  private final Duration statementTimeout;
  private final Duration connectionTimeout;
  private final int poolSize;
  private final Duration replayInterval;
  private final Duration priceRuleRefresh;
  private final Clock clock;
  private final boolean migrate;
  private final int chargeBatchSize;
  private final boolean writeBehind;
  private final LedgerCommitListener commitListener;
  private final long unpricedFallbackCreditsPer1kTokens;

  LedgerOptions(
      String jdbcUrl,
      String username,
      String password,
      Path spoolDirectory,
      int spoolCapacity,
      Duration statementTimeout,
      Duration connectionTimeout,
      int poolSize,
      Duration replayInterval,
      Duration priceRuleRefresh,
      Clock clock,
      boolean migrate,
      int chargeBatchSize,
      boolean writeBehind,
      LedgerCommitListener commitListener,
      long unpricedFallbackCreditsPer1kTokens) {
    if (writeBehind && chargeBatchSize < 2) {
      throw new IllegalArgumentException(
          "writeBehind needs group commit: chargeBatchSize must be above 1, but was "
              + chargeBatchSize);
    }
    this.jdbcUrl = jdbcUrl;
    this.username = username;
    this.password = password;
    this.spoolDirectory = spoolDirectory;
    this.spoolCapacity = spoolCapacity;
    this.statementTimeout = statementTimeout;
    this.connectionTimeout = connectionTimeout;
    this.poolSize = poolSize;
    this.replayInterval = replayInterval;
    this.priceRuleRefresh = priceRuleRefresh;
    this.clock = clock;
    this.migrate = migrate;
    this.chargeBatchSize = chargeBatchSize;
    this.writeBehind = writeBehind;
    this.commitListener = commitListener;
    this.unpricedFallbackCreditsPer1kTokens = unpricedFallbackCreditsPer1kTokens;
  }

  public String jdbcUrl() {
    return jdbcUrl;
  }

  /** The database user, or null to take it from the URL. */
  public String username() {
    return username;
  }

  String password() {
    return password;
  }

  public Path spoolDirectory() {
    return spoolDirectory;
  }

  public int spoolCapacity() {
    return spoolCapacity;
  }

  public Duration statementTimeout() {
    return statementTimeout;
  }

  public Duration connectionTimeout() {
    return connectionTimeout;
  }

  public int poolSize() {
    return poolSize;
  }

  public Duration replayInterval() {
    return replayInterval;
  }

  public Duration priceRuleRefresh() {
    return priceRuleRefresh;
  }

  public Clock clock() {
    return clock;
  }

  public boolean migrate() {
    return migrate;
  }

  public int chargeBatchSize() {
    return chargeBatchSize;
  }

  public boolean writeBehind() {
    return writeBehind;
  }

  public LedgerCommitListener commitListener() {
    return commitListener;
  }

  /**
   * Credits per 1,000 tokens (input and output alike) of a charge no price rule matches; 0: such a
   * charge costs nothing (it is flagged unpriced either way).
   */
  public long unpricedFallbackCreditsPer1kTokens() {
    return unpricedFallbackCreditsPer1kTokens;
  }

  /** Whether charges are written many per transaction by committer threads. */
  boolean groupCommit() {
    return chargeBatchSize > 1;
  }

  /** How long a caller waits for its charge's group commit before spooling it. */
  Duration commitWait() {
    return connectionTimeout.plus(statementTimeout.multipliedBy(2));
  }

  /**
   * How long a read waits for the account's own queued charges: never more than a statement may
   * take.
   */
  Duration readYourChargesWait() {
    return statementTimeout.compareTo(MAX_READ_YOUR_CHARGES_WAIT) < 0
        ? statementTimeout
        : MAX_READ_YOUR_CHARGES_WAIT;
  }
}

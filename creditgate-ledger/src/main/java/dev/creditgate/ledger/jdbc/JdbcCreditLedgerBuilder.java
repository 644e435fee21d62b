package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.LedgerCommitListener;
import dev.creditgate.ledger.LedgerUnavailableException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * Builds a {@link JdbcCreditLedger}. Every option has a named default in {@link LedgerOptions};
 * each setter validates its value and names it in the error.
 */
public final class JdbcCreditLedgerBuilder {
  private String jdbcUrl = LedgerOptions.DEFAULT_JDBC_URL;
  private String username;
  private String password;
  private Path spoolDirectory = LedgerOptions.DEFAULT_SPOOL_DIRECTORY;
  private int spoolCapacity = LedgerOptions.DEFAULT_SPOOL_CAPACITY;
  private Duration statementTimeout = LedgerOptions.DEFAULT_STATEMENT_TIMEOUT;
  private Duration connectionTimeout = LedgerOptions.DEFAULT_CONNECTION_TIMEOUT;
  private int poolSize = LedgerOptions.DEFAULT_POOL_SIZE;
  private Duration replayInterval = LedgerOptions.DEFAULT_REPLAY_INTERVAL;
  private Duration priceRuleRefresh = LedgerOptions.DEFAULT_PRICE_RULE_REFRESH;
  private Clock clock = Clock.systemUTC();
  private boolean migrate = true;
  private int chargeBatchSize = LedgerOptions.DEFAULT_CHARGE_BATCH_SIZE;
  private boolean writeBehind;
  private LedgerCommitListener commitListener = LedgerCommitListener.NONE;
  private long unpricedFallbackCreditsPer1kTokens;

  JdbcCreditLedgerBuilder() {}

  /**
   * {@code jdbc:postgresql:...} or {@code jdbc:sqlite:<file>}; default {@link
   * LedgerOptions#DEFAULT_JDBC_URL}.
   */
  public JdbcCreditLedgerBuilder jdbcUrl(String jdbcUrl) {
    Dialect.of(jdbcUrl);
    this.jdbcUrl = jdbcUrl;
    return this;
  }

  public JdbcCreditLedgerBuilder username(String username) {
    this.username = username;
    return this;
  }

  public JdbcCreditLedgerBuilder password(String password) {
    this.password = password;
    return this;
  }

  /**
   * Told the committed state of the accounts each commit changed, on the committing thread (the
   * guard's snapshot publisher, typically); {@link LedgerCommitListener#NONE} by default.
   */
  public JdbcCreditLedgerBuilder commitListener(LedgerCommitListener listener) {
    this.commitListener = Objects.requireNonNull(listener, "commitListener");
    return this;
  }

  /** Where charges the database cannot take are spooled; one ledger process per directory. */
  public JdbcCreditLedgerBuilder spoolDirectory(Path directory) {
    this.spoolDirectory = Objects.requireNonNull(directory, "spoolDirectory");
    return this;
  }

  /**
   * How many charges the spool holds while the database is away (default {@value
   * LedgerOptions#DEFAULT_SPOOL_CAPACITY}); when it is full the ledger refuses new metered calls
   * ({@link JdbcCreditLedger#acceptsCharges}) rather than serve calls it could not charge.
   */
  public JdbcCreditLedgerBuilder spoolCapacity(int records) {
    if (records < 1) {
      throw new IllegalArgumentException("spoolCapacity must be at least 1, but was " + records);
    }
    this.spoolCapacity = records;
    return this;
  }

  public JdbcCreditLedgerBuilder statementTimeout(Duration timeout) {
    this.statementTimeout = LedgerArguments.requirePositive("statementTimeout", timeout);
    return this;
  }

  /**
   * How long an operation waits for a pooled connection; at least {@link
   * LedgerOptions#MIN_CONNECTION_TIMEOUT}.
   */
  public JdbcCreditLedgerBuilder connectionTimeout(Duration timeout) {
    if (timeout == null || timeout.compareTo(LedgerOptions.MIN_CONNECTION_TIMEOUT) < 0) {
      throw new IllegalArgumentException(
          "connectionTimeout must be at least "
              + LedgerOptions.MIN_CONNECTION_TIMEOUT.toMillis()
              + " ms, but was "
              + timeout);
    }
    this.connectionTimeout = timeout;
    return this;
  }

  public JdbcCreditLedgerBuilder poolSize(int poolSize) {
    this.poolSize =
        LedgerArguments.requireBetween("poolSize", poolSize, 1, LedgerOptions.MAX_POOL_SIZE);
    return this;
  }

  public JdbcCreditLedgerBuilder replayInterval(Duration interval) {
    this.replayInterval = LedgerArguments.requirePositive("replayInterval", interval);
    return this;
  }

  public JdbcCreditLedgerBuilder priceRuleRefresh(Duration refresh) {
    this.priceRuleRefresh = LedgerArguments.requirePositive("priceRuleRefresh", refresh);
    return this;
  }

  /** The time source for timestamps and the replay lag; tests pass a fixed or stepping clock. */
  public JdbcCreditLedgerBuilder clock(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
    return this;
  }

  /**
   * The most charges written in one transaction by group commit (default {@link
   * LedgerOptions#DEFAULT_CHARGE_BATCH_SIZE}); 1 writes every charge in a transaction of its own on
   * the caller's thread.
   */
  public JdbcCreditLedgerBuilder chargeBatchSize(int size) {
    this.chargeBatchSize =
        LedgerArguments.requireBetween(
            "chargeBatchSize", size, 1, LedgerOptions.MAX_CHARGE_BATCH_SIZE);
    return this;
  }

  /**
   * Write-behind (default false): {@link JdbcCreditLedger#charge} journals the charge in the spool
   * directory ({@code write(2)}, no fsync: it survives a crash of the process) and returns {@link
   * ChargeResult.Status#QUEUED}; group commit writes it to the database in the background. {@link
   * #recordIntent} journals a call's estimate, fsync'd while the call runs, which is charged
   * instead should a power loss take the charge's record. Reads of an account wait (up to a second)
   * for its queued charges. Needs group commit ({@link #chargeBatchSize} above 1).
   */
  public JdbcCreditLedgerBuilder writeBehind(boolean writeBehind) {
    this.writeBehind = writeBehind;
    return this;
  }

  /**
   * What a charge no price rule matches costs: this many credits per 1,000 tokens, input and output
   * alike (cached and reasoning tokens included in those), rounded up. Such a charge is still
   * flagged {@code unpriced}. Default 0: it costs nothing.
   */
  public JdbcCreditLedgerBuilder unpricedFallback(long creditsPer1kTokens) {
    this.unpricedFallbackCreditsPer1kTokens =
        dev.creditgate.Checks.requireBetween(
            "unpricedFallbackCreditsPer1kTokens",
            creditsPer1kTokens,
            0,
            LedgerOptions.MAX_UNPRICED_FALLBACK);
    return this;
  }

  /** Whether {@link #build()} brings the schema up to date (default true). */
  public JdbcCreditLedgerBuilder migrate(boolean migrate) {
    this.migrate = migrate;
    return this;
  }

  /**
   * Opens the pool, migrates the schema (unless turned off), opens the spool and starts replaying
   * it.
   *
   * @throws IllegalArgumentException when write-behind is asked for without group commit
   * @throws LedgerUnavailableException when the migration cannot reach the database
   * @throws IllegalStateException when another ledger holds the spool directory
   */
  public JdbcCreditLedger build() {
    return new JdbcCreditLedger(
        new LedgerOptions(
            jdbcUrl,
            username,
            password,
            spoolDirectory,
            spoolCapacity,
            statementTimeout,
            connectionTimeout,
            poolSize,
            replayInterval,
            priceRuleRefresh,
            clock,
            migrate,
            chargeBatchSize,
            writeBehind,
            commitListener,
            unpricedFallbackCreditsPer1kTokens));
  }
}

package dev.creditgate.ledger.jdbc;

import dev.creditgate.BillingContext;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.ChargeIntent;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.CreditLeases;
import dev.creditgate.ledger.CreditLedger;
import dev.creditgate.ledger.CreditPolicies;
import dev.creditgate.ledger.CreditPolicy;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.EventClaim;
import dev.creditgate.ledger.Lease;
import dev.creditgate.ledger.LedgerAudit;
import dev.creditgate.ledger.LedgerChecks;
import dev.creditgate.ledger.LedgerCommitListener;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.LedgerStats;
import dev.creditgate.ledger.LedgerUnavailableException;
import dev.creditgate.ledger.MeteringLedger;
import dev.creditgate.ledger.Page;
import dev.creditgate.ledger.PriceBook;
import dev.creditgate.ledger.SpendBucket;
import dev.creditgate.ledger.SpendQuery;
import dev.creditgate.ledger.SpendSeries;
import dev.creditgate.ledger.VerifyResult;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;

/**
 * The credit ledger on PostgreSQL or SQLite (the embedded default), through a HikariCP pool, with
 * the schema kept by Flyway.
 *
 * <p>What a caller may rely on:
 *
 * <ul>
 *   <li>Every operation is one database transaction that locks the account row (PostgreSQL {@code
 *       SELECT ... FOR UPDATE}, SQLite {@code BEGIN IMMEDIATE}) and updates it guarded by its
 *       version, so no update is lost and an event id is recorded at most once per account, even
 *       when the same event arrives concurrently.
 *   <li>A charge the database cannot take (down, timing out, locked) is written to a durable local
 *       spool and replayed in the background, in order and idempotently; the spool survives a
 *       restart. {@link #stats()} reports its size and lag.
 *   <li>After every commit, the {@link LedgerCommitListener} given to the builder is told the new
 *       state of each account the commit changed (a group commit's accounts in one call); a
 *       listener that throws is logged and never fails the operation.
 *   <li>{@link #pendingDebits} counts the charges accepted but not yet committed, and this ledger's
 *       own commits newer than a snapshot, without I/O.
 *   <li>Every statement has a timeout ({@link JdbcCreditLedgerBuilder#statementTimeout}), and so
 *       does taking a connection from the pool ({@link JdbcCreditLedgerBuilder#connectionTimeout}).
 * </ul>
 *
 * <p>Create one per process and close it on shutdown; it owns its pool, its background threads and
 * its spool directory. The work is done by package-private parts: {@link LedgerDatabase} (pool and
 * transactions), {@link LedgerTables} (account and entry SQL), {@link EventClaims} (claimed
 * idempotency keys), {@link EntryWriter} and {@link BatchWriter} (one operation, or a batch of
 * charges, per transaction), {@link Metering} (the way of a charge), {@link ChargeBatcher} (group
 * commit), {@link WriteBehindQueue} (queued charges and pending debits), {@link ChargeJournal} and
 * {@link ChargeSpool} (durability), {@link SpoolReplayer}, {@link PriceRules}, {@link
 * LedgerVerifier} and {@link SpendBuckets}.
 */
public final class JdbcCreditLedger
    implements CreditLedger,
        MeteringLedger,
        PriceBook,
        LedgerAudit,
        CreditLeases,
        CreditPolicies,
        SpendSeries {

  private final LedgerOptions options;
  private final LedgerDatabase db;
  private final LedgerTables tables;
  private final ChargeSpool spool;
  private final WriteBehindQueue queue = new WriteBehindQueue();
  private final ChargeCounters counters = new ChargeCounters();
  private final CommitNotifier notifier;
  private final EntryWriter entries;
  private final JdbcLeases leases;
  private final AccountPolicies policies;
  private final EventClaims claims;
  private final PriceRules prices;
  private final LedgerVerifier verifier;
  private final SpendBuckets spendBuckets;
  private final Metering metering;
  private final SpoolReplayer replayer;
  private final AtomicBoolean closed = new AtomicBoolean();

  JdbcCreditLedger(LedgerOptions options) {
    this.options = options;
    this.db = new LedgerDatabase(options);
    this.tables = new LedgerTables(db);
    this.notifier = new CommitNotifier(queue, options.commitListener());
    this.prices = new PriceRules(db, options);
    this.policies = new AccountPolicies(db, tables, options.priceRuleRefresh());
    this.verifier = new LedgerVerifier(db, tables);
    this.spendBuckets = new SpendBuckets(db);
    ChargeSpool openedSpool = null;
    ChargeJournal journal = null;
    try {
      if (options.migrate()) {
        db.migrate();
      }
      openedSpool = new ChargeSpool(options.spoolDirectory(), options.spoolCapacity());
      if (options.writeBehind()) {
        journal =
            JournalRecovery.reopen(
                options.spoolDirectory(),
                openedSpool,
                (accountId, eventId) ->
                    db.read(c -> tables.findEntry(c, accountId, eventId)) != null);
      }
    } catch (RuntimeException e) {
      if (openedSpool != null) {
        openedSpool.close();
      }
      db.close();
      throw e;
    }
    this.spool = openedSpool;
    this.leases =
        new JdbcLeases(db, tables, queue, spool, options.clock(), LeaseHolders.newHolderName());
    this.claims = new EventClaims(db, leases.holder());
    this.entries = new EntryWriter(db, tables, notifier, leases);
    this.metering =
        new Metering(
            options,
            db.dialect(),
            spool,
            prices,
            entries,
            new BatchWriter(db, tables, leases),
            notifier,
            queue,
            counters,
            journal,
            leases);
    this.replayer = new SpoolReplayer(spool, prices, metering, counters);
    replayer.start(options.replayInterval());
  }

  public static JdbcCreditLedgerBuilder builder() {
    return new JdbcCreditLedgerBuilder();
  }

  /**
   * Brings the ledger's schema at {@code jdbcUrl} up to date (the {@code creditgate migrate}
   * command). Returns the number of migrations applied.
   *
   * @throws LedgerUnavailableException when the database cannot be reached or migrated
   */
  public static int migrate(String jdbcUrl) {
    return LedgerDatabase.migrate(jdbcUrl);
  }

  /**
   * The ledger's pool. The gateway keeps its own tables in the same database with its own Flyway
   * location and history table; it must not change the ledger's tables.
   */
  public DataSource dataSource() {
    return db.dataSource();
  }

  public Dialect dialect() {
    return db.dialect();
  }

  public LedgerOptions options() {
    return options;
  }

  /**
   * A reading of the spool and the counters, for metrics; listener failures count as cache write
   * failures.
   */
  @Override
  public LedgerStats stats() {
    Instant oldest = spool.oldest();
    Duration lag =
        oldest == null ? Duration.ZERO : Duration.between(oldest, options.clock().instant());
    return new LedgerStats(
        spool.size(),
        spool.bytes(),
        lag.isNegative() ? Duration.ZERO : lag,
        counters.spooled.sum(),
        counters.replayed.sum(),
        counters.rejected.sum(),
        counters.unpriced.sum(),
        notifier.failures(),
        counters.groupCommits.sum(),
        counters.groupCommitCharges.sum(),
        counters.groupCommitNanos.sum(),
        queue.size());
  }

  // ---------------------------------------------------------------- accounts

  @Override
  public Optional<CreditSnapshot> fetchSnapshot(String accountId) {
    return account(accountId).map(Account::snapshot);
  }

  /**
   * The account's credit as committed, without waiting for this process's queued charges of it as
   * {@link #fetchSnapshot} does (they count as {@link #pendingDebits} instead): the read of a
   * strict meter whose guard had no snapshot. On a busy account that wait is a charge batch's
   * commit, and every call of the account would wait for it.
   */
  public Optional<CreditSnapshot> committedSnapshot(String accountId) {
    BillingContext.requireValidAccountId(accountId);
    ensureOpen();
    return db.read(c -> tables.account(c, accountId)).map(Account::snapshot);
  }

  @Override
  public Account openAccount(String accountId) {
    BillingContext.requireValidAccountId(accountId);
    ensureOpen();
    return db.transaction(c -> tables.lockAccount(c, accountId, true, db.now()));
  }

  @Override
  public Optional<Account> account(String accountId) {
    BillingContext.requireValidAccountId(accountId);
    ensureOpen();
    awaitOwnCharges(accountId);
    return db.read(c -> tables.account(c, accountId));
  }

  @Override
  public Page<Account> accounts(String cursor, int limit) {
    LedgerArguments.requireLimit(limit);
    ensureOpen();
    return db.read(c -> tables.accounts(c, cursor == null ? "" : cursor, limit));
  }

  // ---------------------------------------------------------------- credit-moving operations

  @Override
  public LedgerEntry grant(
      String accountId, long amount, String eventId, String actor, String reason) {
    LedgerArguments.checkOperation(accountId, eventId, actor, reason);
    LedgerChecks.requirePositiveAmount("amount", amount);
    return write(
        accountId, eventId, true, EntryDraft.simple(EntryKind.GRANT, amount, actor, reason));
  }

  @Override
  public LedgerEntry refund(
      String accountId,
      String chargeEventId,
      long amount,
      String eventId,
      String actor,
      String reason) {
    LedgerArguments.checkOperation(accountId, eventId, actor, reason);
    LedgerChecks.requireEventId(chargeEventId);
    LedgerChecks.requirePositiveAmount("amount", amount);
    return write(
        accountId, eventId, false, EntryDraft.refund(chargeEventId, amount, actor, reason));
  }

  @Override
  public LedgerEntry adjust(
      String accountId, long amount, String eventId, String actor, String reason) {
    LedgerArguments.checkOperation(accountId, eventId, actor, reason);
    LedgerChecks.requireNonZeroAmount("amount", amount);
    LedgerArguments.checkAdjustmentReason(reason);
    return write(
        accountId, eventId, false, EntryDraft.simple(EntryKind.ADJUSTMENT, amount, actor, reason));
  }

  @Override
  public LedgerEntry block(String accountId, String eventId, String actor, String reason) {
    LedgerArguments.checkOperation(accountId, eventId, actor, reason);
    return write(accountId, eventId, false, EntryDraft.simple(EntryKind.BLOCK, 0, actor, reason));
  }

  @Override
  public LedgerEntry unblock(String accountId, String eventId, String actor, String reason) {
    LedgerArguments.checkOperation(accountId, eventId, actor, reason);
    return write(accountId, eventId, false, EntryDraft.simple(EntryKind.UNBLOCK, 0, actor, reason));
  }

  private LedgerEntry write(String accountId, String eventId, boolean create, EntryDraft draft) {
    ensureOpen();
    return entries.write(accountId, eventId, create, draft, List.of()).entry();
  }

  // ---------------------------------------------------------------- metering

  @Override
  public ChargeResult charge(ChargeRequest request) {
    return metering.charge(request, null);
  }

  @Override
  public ChargeIntent recordIntent(ChargeRequest estimate) {
    if (metering.writesBehind()) {
      return metering.recordIntent(estimate);
    }
    Objects.requireNonNull(estimate, "estimate");
    LedgerArguments.checkCharge(estimate);
    ensureOpen();
    return MeteringLedger.super.recordIntent(estimate);
  }

  // ---------------------------------------------------------------- accounts' credit policies

  @Override
  public Optional<CreditPolicy> policy(String accountId) {
    return policies.policy(accountId);
  }

  @Override
  public Optional<CreditPolicy> setPolicy(String accountId, CreditPolicy policy, String actor) {
    BillingContext.requireValidAccountId(accountId);
    LedgerArguments.checkActor(actor);
    ensureOpen();
    return policies.set(accountId, policy, actor);
  }

  // ---------------------------------------------------------------- leases

  @Override
  public String holder() {
    return leases.holder();
  }

  @Override
  public Lease extend(String accountId, long needed, long wanted, long overdraft, Duration term) {
    BillingContext.requireValidAccountId(accountId);
    ensureOpen();
    return leases.extend(accountId, needed, wanted, overdraft, term).lease();
  }

  @Override
  public long grow(String accountId, long needed, long wanted, long overdraft, Duration term) {
    BillingContext.requireValidAccountId(accountId);
    ensureOpen();
    return leases.extend(accountId, needed, wanted, overdraft, term).granted();
  }

  @Override
  public void trim(String accountId, long keep, Duration term) {
    BillingContext.requireValidAccountId(accountId);
    ensureOpen();
    leases.trim(accountId, keep, term);
  }

  @Override
  public void renew(Duration term) {
    ensureOpen();
    leases.renew(term);
  }

  @Override
  public long leaseRoom(String accountId) {
    return leases.leaseRoom(accountId);
  }

  @Override
  public List<Lease> leases(String accountId) {
    BillingContext.requireValidAccountId(accountId);
    ensureOpen();
    return leases.leases(accountId);
  }

  /** False while the spool is full: a metered call now could not be charged durably. */
  @Override
  public boolean acceptsCharges() {
    return !spool.full();
  }

  @Override
  public long pendingDebits(String accountId, CreditSnapshot snapshot) {
    return queue.pendingDebits(accountId, snapshot);
  }

  @Override
  public boolean awaitCharges(String accountId, Duration timeout) {
    return queue.await(accountId, timeout);
  }

  /**
   * Reads see the account's own queued charges (bounded wait: a read is never held up by a dead
   * database).
   */
  private void awaitOwnCharges(String accountId) {
    if (metering.writesBehind()) {
      queue.await(accountId, options.readYourChargesWait());
    }
  }

  @Override
  public boolean eventRecorded(String accountId, String eventId) {
    BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    // Queued and spooled charges first: they answer while the database is away.
    return queue.contains(accountId, eventId)
        || spool.contains(accountId, eventId)
        || entry(accountId, eventId).isPresent();
  }

  /**
   * Claims the event id in the database, shared by every process on it ({@code event_claims}): the
   * charges this process holds locally (queued, spooled) answer first, without the database, as for
   * {@link #eventRecorded}. On PostgreSQL the claim and the look-up of a charge are one statement.
   */
  @Override
  public EventClaim claimEvent(String accountId, String eventId, Duration ttl) {
    BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    Objects.requireNonNull(ttl, "ttl");
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    ensureOpen();
    if (queue.contains(accountId, eventId) || spool.contains(accountId, eventId)) {
      return EventClaim.CHARGED;
    }
    return claims.claim(accountId, eventId, ttl);
  }

  @Override
  public void releaseEvent(String accountId, String eventId) {
    BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    ensureOpen();
    claims.release(accountId, eventId);
  }

  /**
   * Writes the spooled charges to the database now, oldest first, and returns how many are still
   * pending. The background task does the same every replay interval. A charge whose event id
   * another call was charged with is charged under an id of its own ({@link
   * ChargeRequest#underOwnId()}); a record the database refuses (a bad value, an unknown account)
   * moves to the spool directory's rejected file.
   */
  public int replaySpool() {
    ensureOpen();
    return (int) Math.min(Integer.MAX_VALUE, replayer.replay());
  }

  // ---------------------------------------------------------------- entries

  @Override
  public Page<LedgerEntry> entries(String accountId, String cursor, int limit) {
    BillingContext.requireValidAccountId(accountId);
    LedgerArguments.requireLimit(limit);
    long before = LedgerArguments.parseEntryCursor(cursor);
    ensureOpen();
    awaitOwnCharges(accountId);
    return db.read(c -> tables.entries(c, accountId, before, limit));
  }

  @Override
  public Optional<LedgerEntry> entry(String accountId, String eventId) {
    BillingContext.requireValidAccountId(accountId);
    LedgerChecks.requireEventId(eventId);
    ensureOpen();
    awaitOwnCharges(accountId);
    return db.read(
        c -> Optional.ofNullable(tables.findEntry(c, accountId, eventId)).map(EntryRow::entry));
  }

  // ---------------------------------------------------------------- spend series

  /**
   * One statement over the entries, through the V6 indexes. An account's own series first waits
   * (bounded) for this process's queued charges of it, as {@link #entries} does.
   */
  @Override
  public List<SpendBucket> spend(SpendQuery query) {
    Objects.requireNonNull(query, "query");
    ensureOpen();
    if (query.accountId() != null) {
      awaitOwnCharges(query.accountId());
    }
    return spendBuckets.spend(query);
  }

  // ---------------------------------------------------------------- price rules

  @Override
  public List<PriceRule> priceRules() {
    ensureOpen();
    return prices.load();
  }

  @Override
  public PriceRule createPriceRule(PriceRule rule) {
    ensureOpen();
    return prices.create(rule);
  }

  @Override
  public PriceRule updatePriceRule(PriceRule rule) {
    ensureOpen();
    return prices.update(rule);
  }

  @Override
  public Quote quote(String scene, String provider, String model, Usage usage) {
    Objects.requireNonNull(usage, "usage");
    return prices.quoteFor(
        Objects.requireNonNullElse(scene, ""),
        Objects.requireNonNullElse(provider, ""),
        Objects.requireNonNullElse(model, ""),
        usage);
  }

  @Override
  public long unpricedFallbackCreditsPer1kTokens() {
    return options.unpricedFallbackCreditsPer1kTokens();
  }

  // ---------------------------------------------------------------- verification

  @Override
  public VerifyResult verify(String accountId) {
    BillingContext.requireValidAccountId(accountId);
    ensureOpen();
    awaitOwnCharges(accountId);
    return verifier.verify(accountId);
  }

  @Override
  public List<VerifyResult> verifyAll() {
    ensureOpen();
    return verifier.verifyAll(this::verify);
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new IllegalStateException("the ledger is closed");
    }
  }

  /**
   * For tests of the recovery: stops as a killed process would as far as its journal goes (the
   * journal is abandoned as it is: no last sync, no void for the calls in flight, nothing more
   * deleted), then closes the rest.
   */
  void crash() {
    metering.haltJournal();
    close();
  }

  /**
   * Lets group commit write what is queued (bounded), stops the replay task, releases the spool and
   * closes the pool. Pending spooled and journaled charges stay on disk for the next start.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    metering.close();
    replayer.close();
    spool.close();
    db.close();
  }
}

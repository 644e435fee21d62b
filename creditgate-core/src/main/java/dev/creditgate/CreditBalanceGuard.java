package dev.creditgate;

import static dev.creditgate.Checks.requirePositive;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.internal.ThrottledLog;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides, right before an LLM call, whether its account may spend.
 *
 * <p>Each decision reads the cache exactly once: {@link CreditCache#lookup} returns the blocked
 * marker and the balance snapshot together. On a miss the guard reads the credit store and
 * back-fills the cache through its {@link SnapshotPublisher}. The snapshot's credit, less the
 * account's {@link PendingDebits} (charges not written yet), must be positive. It fails open by
 * default: when the cache or the store cannot answer in time the call is admitted and the reason
 * says so ({@link Admission.Reason#degraded()}), unless the guard itself denied the account moments
 * before ({@link Builder#rememberDenials}).
 *
 * <p>Rules a caller may rely on:
 *
 * <ol>
 *   <li>An account the store reports as blocked is denied on first sight, whatever its balance, and
 *       the cached snapshot carries the blocked flag, so a block never lapses while a snapshot is
 *       cached.
 *   <li>Concurrent misses for one account make one store fetch (single flight); the others wait for
 *       its result within the fetch timeout.
 *   <li>Each cache call has a time budget ({@link #DEFAULT_CACHE_TIMEOUT}); a late answer counts as
 *       an error, so a slow cache never stalls a call.
 *   <li>The store fetch runs on the guard's executor with its own timeout: interrupting or
 *       abandoning the caller does not cancel it, and its back-fill still lands (retried in the
 *       background if the cache fails).
 *   <li>{@link Builder#failClosed(boolean)} denies when neither cache nor store can answer.
 *   <li>Failing open does not admit an account this guard denied from a real answer within the last
 *       {@link #DEFAULT_REMEMBER_DENIALS} (stale-if-error for denials only): a cache outage or an
 *       overloaded moment does not open the door to blocked and exhausted accounts.
 *   <li>The blocked marker records the snapshot version it was set for; a newer snapshot (a top-up
 *       written by the ledger) overrides an older marker at once.
 *   <li>A denial due only to pending debits ({@link Admission.Reason#DENIED_PENDING_DEBITS}) sets
 *       no blocked marker: the queued charge may still be rejected, and a marker would block the
 *       account for minutes.
 * </ol>
 *
 * <p>Create one guard per process and share it; it is thread-safe. {@link #close()} stops the
 * executor and the publisher the guard created (not ones passed in).
 */
public final class CreditBalanceGuard implements AutoCloseable {

  /** How long a blocked marker lives: 5 minutes. */
  public static final Duration DEFAULT_BLOCKED_TTL = SnapshotPublisher.DEFAULT_BLOCKED_TTL;

  /** How long a back-filled snapshot lives: 10 minutes. */
  public static final Duration DEFAULT_SNAPSHOT_TTL = SnapshotPublisher.DEFAULT_SNAPSHOT_TTL;

  /** How long a caller waits for the credit store: 1 second. */
  public static final Duration DEFAULT_FETCH_TIMEOUT = Duration.ofSeconds(1);

  /**
   * How long a caller waits for each cache call. 50 ms is far above a healthy Redis round trip
   * (well under 1 ms on a LAN) and far below an LLM call, so a sick cache costs little.
   */
  public static final Duration DEFAULT_CACHE_TIMEOUT = SnapshotPublisher.DEFAULT_TIMEOUT;

  /**
   * How long a denial is remembered for a cache or store failure: long enough to ride out a cache
   * hiccup or an overloaded moment, short enough that a top-up the guard cannot see during an
   * outage keeps the account denied for at most this long.
   */
  public static final Duration DEFAULT_REMEMBER_DENIALS = Duration.ofSeconds(30);

  /** Accounts whose denial is remembered at most; beyond it, new denials are not remembered. */
  static final int MAX_REMEMBERED_DENIALS = 100_000;

  private static final long DENIAL_REFRESH_NANOS = TimeUnit.SECONDS.toNanos(1);

  private static final Logger LOG = LoggerFactory.getLogger(CreditBalanceGuard.class);

  private final CreditCache cache;
  private final CreditSnapshotProvider store;
  private final SnapshotPublisher publisher;
  private final boolean ownsPublisher;
  private final PendingDebits pendingDebits;
  private final long fetchTimeoutNanos;
  private final long cacheTimeoutNanos;
  private final boolean failClosed;
  private final GuardListener listener;
  private final Ticker ticker;
  private final ExecutorService executor;
  private final boolean ownsExecutor;
  private final ConcurrentHashMap<String, CompletableFuture<Optional<CreditSnapshot>>> inflight =
      new ConcurrentHashMap<>();
  private final long rememberDenialsNanos;

  /** Account id to the ticker reading of its last denial from a cache or store answer. */
  private final ConcurrentHashMap<String, Long> denials = new ConcurrentHashMap<>();

  private final ThrottledLog cacheLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));
  private final ThrottledLog storeLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));
  private final ThrottledLog pendingLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  private CreditBalanceGuard(Builder b) {
    this.cache = b.cache != null || b.publisher == null ? b.cache : b.publisher.cache();
    if (b.publisher != null && b.publisher.cache() != cache) {
      throw new IllegalStateException("the publisher writes to another cache than the guard reads");
    }
    if (b.publisher != null && b.ttlSet) {
      throw new IllegalStateException(
          "snapshotTtl and blockedTtl are the publisher's options when a publisher is given");
    }
    this.store = b.store;
    this.ownsPublisher = b.publisher == null && cache != null;
    this.publisher =
        !ownsPublisher
            ? b.publisher
            : SnapshotPublisher.builder(cache)
                .snapshotTtl(b.snapshotTtl)
                .blockedTtl(b.blockedTtl)
                .timeout(b.cacheTimeout)
                .ticker(b.ticker)
                .build();
    this.pendingDebits = b.pendingDebits;
    this.fetchTimeoutNanos = b.fetchTimeout.toNanos();
    this.cacheTimeoutNanos = b.cacheTimeout.toNanos();
    this.failClosed = b.failClosed;
    this.rememberDenialsNanos = b.rememberDenials.toNanos();
    this.listener = b.listener;
    this.ticker = b.ticker;
    this.ownsExecutor = b.executor == null;
    this.executor = ownsExecutor ? Executors.newVirtualThreadPerTaskExecutor() : b.executor;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * The publisher that writes the guard's back-fills and blocked markers; hand the same one to
   * whatever else writes account states into the cache (the ledger's commit listener). Empty when
   * the guard has no cache.
   */
  public Optional<SnapshotPublisher> publisher() {
    return Optional.ofNullable(publisher);
  }

  /**
   * Decides whether the call described by {@code context} may spend. Never throws for an
   * infrastructure failure: those become a degraded admission (or denial, when failing closed).
   */
  public Admission check(BillingContext context) {
    Objects.requireNonNull(context, "context");
    long start = ticker.read();
    BillingContext normalized = context.normalize();
    Admission admission = decide(normalized);
    Admission.Reason reason = admission.reason();
    if (rememberDenialsNanos > 0
        && !reason.degraded()
        && normalized.hasAccount()
        && !normalized.skipCharge()) {
      remember(normalized.accountId(), reason.admitted());
    }
    listener.onDecision(normalized, admission, ticker.read() - start);
    return admission;
  }

  /**
   * Like {@link #check} but throws on denial.
   *
   * @throws CreditBalanceBlockedException when the account may not spend
   */
  public Admission guard(BillingContext context) {
    Admission admission = check(context);
    if (admission.isDenied()) {
      throw new CreditBalanceBlockedException(admission);
    }
    return admission;
  }

  private Admission decide(BillingContext context) {
    if (cache == null) {
      return Admission.of(Admission.Reason.NOT_WIRED);
    }
    if (!context.hasAccount()) {
      return Admission.of(Admission.Reason.SKIPPED_NO_ACCOUNT);
    }
    if (context.skipCharge()) {
      return Admission.of(Admission.Reason.SKIPPED_SKIP_CHARGE);
    }
    String accountId = context.accountId();
    CacheLookup found;
    try {
      found = await(cache.lookup(accountId), cacheTimeoutNanos);
    } catch (Exception e) {
      cacheLog.warn(
          ticker.read(),
          "credit guard cache lookup failed, account_id={}: {}",
          accountId,
          describe(e));
      restoreInterrupt(e);
      return failClosed
          ? fromStore(accountId, true)
          : Admission.of(failOpen(accountId, Admission.Reason.FAIL_OPEN_CACHE_ERROR));
    }
    if (found.markerApplies()) {
      return Admission.of(Admission.Reason.DENIED_BLOCKED_MARKER);
    }
    CreditSnapshot snapshot = found.snapshot();
    if (snapshot == null) {
      return fromStore(accountId, false);
    }
    Admission judged = judge(accountId, snapshot);
    Admission.Reason reason = judged.reason();
    if (reason == Admission.Reason.DENIED_STORE_BLOCKED
        || reason == Admission.Reason.DENIED_NON_POSITIVE_BALANCE) {
      // The snapshot alone denies: the marker spares the next calls the judging. A denial due to
      // pending debits sets none, since the queued charge may yet be rejected.
      publisher.markBlocked(accountId, snapshot.version());
    }
    return judged;
  }

  private Admission judge(String accountId, CreditSnapshot snapshot) {
    if (snapshot.blocked()) {
      return Admission.of(Admission.Reason.DENIED_STORE_BLOCKED);
    }
    long credit = snapshot.availableCredit();
    if (credit <= 0) {
      return Admission.of(Admission.Reason.DENIED_NON_POSITIVE_BALANCE, snapshot, credit);
    }
    // credit > 0 and pending >= 0: the difference cannot overflow.
    long available = credit - pendingDebits(accountId, snapshot);
    return available > 0
        ? Admission.of(Admission.Reason.BALANCE_POSITIVE, snapshot, available)
        : Admission.of(Admission.Reason.DENIED_PENDING_DEBITS, snapshot, available);
  }

  /**
   * The account's pending debits; a failing or negative answer counts as none, so it never fails a
   * decision.
   */
  private long pendingDebits(String accountId, CreditSnapshot snapshot) {
    long pending;
    try {
      pending = pendingDebits.pendingDebits(accountId, snapshot);
    } catch (RuntimeException e) {
      pendingLog.warn(
          ticker.read(),
          "credit guard pending debits failed, counted as none, account_id={}: {}",
          accountId,
          describe(e));
      return 0;
    }
    if (pending < 0) {
      pendingLog.warn(
          ticker.read(),
          "credit guard pending debits negative ({}), counted as none, account_id={}",
          pending,
          accountId);
      return 0;
    }
    return pending;
  }

  private Admission fromStore(String accountId, boolean cacheFailed) {
    if (store == null) {
      return Admission.of(
          cacheFailed ? Admission.Reason.DENIED_UNAVAILABLE : Admission.Reason.NO_SNAPSHOT);
    }
    CompletableFuture<Optional<CreditSnapshot>> fetch = singleFlightFetch(accountId);
    Optional<CreditSnapshot> snapshot;
    try {
      snapshot = fetch.get(fetchTimeoutNanos, TimeUnit.NANOSECONDS);
    } catch (TimeoutException | InterruptedException e) {
      // An interrupted caller is abandoning its request; the fetch goes on without it.
      restoreInterrupt(e);
      storeLog.warn(ticker.read(), "credit guard store fetch timed out, account_id={}", accountId);
      return Admission.of(
          failClosed
              ? Admission.Reason.DENIED_UNAVAILABLE
              : failOpen(accountId, Admission.Reason.FAIL_OPEN_STORE_TIMEOUT));
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof TimeoutException) {
        storeLog.warn(
            ticker.read(), "credit guard store fetch timed out, account_id={}", accountId);
        return Admission.of(
            failClosed
                ? Admission.Reason.DENIED_UNAVAILABLE
                : failOpen(accountId, Admission.Reason.FAIL_OPEN_STORE_TIMEOUT));
      }
      storeLog.warn(
          ticker.read(),
          "credit guard store fetch failed, account_id={}: {}",
          accountId,
          describe(cause));
      return Admission.of(
          failClosed
              ? Admission.Reason.DENIED_UNAVAILABLE
              : failOpen(accountId, Admission.Reason.FAIL_OPEN_STORE_ERROR));
    }
    return snapshot
        .map(found -> judge(accountId, found))
        .orElse(Admission.of(Admission.Reason.NO_SNAPSHOT));
  }

  /**
   * What a failure admits: {@code reason}, unless this guard denied the account from a real answer
   * within the remembered window. An account known a moment ago to be unable to spend is not let
   * through because the cache is down or the process is too busy to hear it in time.
   */
  private Admission.Reason failOpen(String accountId, Admission.Reason reason) {
    if (rememberDenialsNanos > 0) {
      Long at = denials.get(accountId);
      if (at != null) {
        if (ticker.read() - at < rememberDenialsNanos) {
          return Admission.Reason.DENIED_RECENT_DENIAL;
        }
        denials.remove(accountId, at);
      }
    }
    return reason;
  }

  /**
   * Records a decision taken from a cache or store answer: a denial is remembered, an admission
   * forgets it.
   */
  private void remember(String accountId, boolean admitted) {
    if (admitted) {
      // A lock-free read first: removing an absent key may still lock its hash bin.
      if (!denials.isEmpty() && denials.containsKey(accountId)) {
        denials.remove(accountId);
      }
      return;
    }
    long now = ticker.read();
    Long before = denials.get(accountId);
    if (before != null && now - before < DENIAL_REFRESH_NANOS) {
      // Refreshed at most once a second: a read, not a write, on the hot deny path (the window
      // may end up to a second early).
      return;
    }
    if (before == null && denials.size() >= MAX_REMEMBERED_DENIALS) {
      denials.values().removeIf(at -> now - at >= rememberDenialsNanos);
      if (denials.size() >= MAX_REMEMBERED_DENIALS) {
        return;
      }
    }
    denials.put(accountId, now);
  }

  /** Joins the account's fetch under way, or starts one. */
  private CompletableFuture<Optional<CreditSnapshot>> singleFlightFetch(String accountId) {
    CompletableFuture<Optional<CreditSnapshot>> mine = new CompletableFuture<>();
    CompletableFuture<Optional<CreditSnapshot>> running;
    while ((running = inflight.putIfAbsent(accountId, mine)) != null) {
      if (!running.isDone()) {
        return running;
      }
      // A finished fetch whose clean-up has not run yet: its answer may predate a change in the
      // store, so never hand it to a new caller.
      inflight.remove(accountId, running);
    }
    // The shared result expires with the fetch timeout, so a hung store cannot hold later callers;
    // the task itself goes on and still back-fills the cache when the store answers.
    mine.orTimeout(fetchTimeoutNanos, TimeUnit.NANOSECONDS)
        .whenComplete((result, error) -> inflight.remove(accountId, mine));
    try {
      executor.execute(() -> fetchAndBackfill(accountId, mine));
    } catch (RejectedExecutionException e) {
      mine.completeExceptionally(e);
    }
    return mine;
  }

  private void fetchAndBackfill(
      String accountId, CompletableFuture<Optional<CreditSnapshot>> result) {
    Optional<CreditSnapshot> fetched;
    try {
      fetched = Objects.requireNonNullElse(store.fetchSnapshot(accountId), Optional.empty());
    } catch (Throwable t) {
      result.completeExceptionally(t);
      return;
    }
    fetched.ifPresent(snapshot -> publisher.publish(accountId, snapshot));
    inflight.remove(accountId, result);
    result.complete(fetched);
  }

  private static <T> T await(CompletableFuture<T> future, long timeoutNanos)
      throws InterruptedException, ExecutionException, TimeoutException {
    if (future == null) {
      throw new ExecutionException(new NullPointerException("cache returned a null future"));
    }
    // An in-process cache answers with a completed future: skip the timed wait.
    T value = future.isDone() ? future.get() : future.get(timeoutNanos, TimeUnit.NANOSECONDS);
    if (value == null) {
      throw new ExecutionException(new NullPointerException("cache returned null"));
    }
    return value;
  }

  private static void restoreInterrupt(Exception e) {
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
    }
  }

  private static String describe(Throwable t) {
    if (t instanceof ExecutionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof TimeoutException) {
      return "no answer within the time budget";
    }
    return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
  }

  /**
   * Stops the executor and the publisher the guard created; fetches under way and back-fill retries
   * are abandoned.
   */
  @Override
  public void close() {
    if (ownsExecutor) {
      executor.shutdownNow();
    }
    if (ownsPublisher) {
      publisher.close();
    }
  }

  /**
   * Options for a {@link CreditBalanceGuard}. Every option has a default (the {@code DEFAULT_}
   * constants); each setter validates its value and names it in the error.
   */
  public static final class Builder {
    private CreditCache cache;
    private CreditSnapshotProvider store;
    private SnapshotPublisher publisher;
    private PendingDebits pendingDebits = PendingDebits.NONE;
    private Duration blockedTtl = DEFAULT_BLOCKED_TTL;
    private Duration snapshotTtl = DEFAULT_SNAPSHOT_TTL;
    private boolean ttlSet;
    private Duration fetchTimeout = DEFAULT_FETCH_TIMEOUT;
    private Duration cacheTimeout = DEFAULT_CACHE_TIMEOUT;
    private boolean failClosed;
    private Duration rememberDenials = DEFAULT_REMEMBER_DENIALS;
    private GuardListener listener = GuardListener.NOOP;
    private Ticker ticker = Ticker.systemTicker();
    private ExecutorService executor;

    private Builder() {}

    /**
     * The cache; without one (and without a {@link #publisher}) the guard admits everything ({@link
     * Admission.Reason#NOT_WIRED}).
     */
    public Builder cache(CreditCache cache) {
      this.cache = cache;
      return this;
    }

    /** The credit store read on a cache miss; without one a miss is admitted. */
    public Builder snapshotProvider(CreditSnapshotProvider store) {
      this.store = store;
      return this;
    }

    /**
     * The writer of back-fills and blocked markers, shared with the ledger so that one object keeps
     * the cache coherent; it must write to the guard's {@link #cache} (which it supplies when none
     * is set). The caller keeps ownership. By default the guard builds one with its {@link
     * #snapshotTtl}, {@link #blockedTtl} and {@link #cacheTimeout} and closes it in {@link
     * CreditBalanceGuard#close()}; with a publisher given, its own TTLs apply and setting the
     * guard's is an error.
     */
    public Builder publisher(SnapshotPublisher publisher) {
      this.publisher = Objects.requireNonNull(publisher, "publisher");
      return this;
    }

    /** Debits accepted but not in the snapshots yet, subtracted before judging; none by default. */
    public Builder pendingDebits(PendingDebits pendingDebits) {
      this.pendingDebits = Objects.requireNonNull(pendingDebits, "pendingDebits");
      return this;
    }

    /** How long a blocked marker lives, for the publisher the guard builds. */
    public Builder blockedTtl(Duration ttl) {
      this.blockedTtl = requirePositive("blockedTtl", ttl);
      this.ttlSet = true;
      return this;
    }

    /** How long a back-filled snapshot lives, for the publisher the guard builds. */
    public Builder snapshotTtl(Duration ttl) {
      this.snapshotTtl = requirePositive("snapshotTtl", ttl);
      this.ttlSet = true;
      return this;
    }

    /** How long a caller waits for the credit store on a miss. */
    public Builder fetchTimeout(Duration timeout) {
      this.fetchTimeout = requirePositive("fetchTimeout", timeout);
      return this;
    }

    /** How long a caller waits for each cache call before treating it as failed. */
    public Builder cacheTimeout(Duration timeout) {
      this.cacheTimeout = requirePositive("cacheTimeout", timeout);
      return this;
    }

    /**
     * Whether to deny when neither the cache nor the store can answer. Off by default: an
     * infrastructure fault should not block every LLM call, and the ledger still records charges.
     */
    public Builder failClosed(boolean failClosed) {
      this.failClosed = failClosed;
      return this;
    }

    /**
     * How long a denial taken from a cache or store answer is remembered, so that a cache or store
     * failure within that time denies the account again instead of failing open ({@link
     * Admission.Reason#DENIED_RECENT_DENIAL}). An admission from an answer forgets the denial.
     * {@link Duration#ZERO} turns this off: every failure fails open.
     */
    public Builder rememberDenials(Duration window) {
      if (window == null || window.isNegative()) {
        throw new IllegalArgumentException(
            "rememberDenials must be zero or positive, but was " + window);
      }
      this.rememberDenials = window;
      return this;
    }

    public Builder listener(GuardListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** The time source for decision latency; tests pass a fake. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * The executor store fetches run on. The caller keeps ownership; by default the guard creates a
     * virtual-thread executor and closes it in {@link CreditBalanceGuard#close()}.
     */
    public Builder executor(ExecutorService executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    public CreditBalanceGuard build() {
      return new CreditBalanceGuard(this);
    }
  }
}

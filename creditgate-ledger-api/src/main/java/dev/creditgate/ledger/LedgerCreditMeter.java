package dev.creditgate.ledger;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.internal.ThrottledLog;
import dev.creditgate.meter.CreditMeter;
import dev.creditgate.meter.CreditMode;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.IdempotencyKeyReusedException;
import dev.creditgate.meter.MeterListener;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.ShortfallPolicy;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The credit meter over a {@link CreditBalanceGuard} and a {@link MeteringLedger}: one call is
 * claimed by its event id in this process and, when its client chose the id, in the ledger ({@link
 * MeteringLedger#claimEvent}, shared by every process on it, which refuses an id charged before or
 * being served elsewhere), admitted, recorded with the ledger as an intent carrying its estimate,
 * and charged exactly once.
 *
 * <p>Admission reads the guard once (which counts the account's charges still queued in the
 * ledger). In {@link CreditMode#STRICT} mode (the default) the call's worst-case cost is then held
 * in this process's {@link HoldBook}: the call is admitted only if the hold fits in the account's
 * credit less its pending debits and its other calls' holds (plus the configured overdraft);
 * settling charges the actual cost and releases the hold. In {@link CreditMode#CHECK} mode the
 * guard's answer decides (a positive balance), as a plain credit guard does; a call no price rule
 * prices is refused in both modes, unless (check mode) the price book charges such calls a
 * fallback.
 *
 * <p>An account's own settings ({@link CreditPolicies}, when given) override the meter's mode,
 * shortfall policy and overdraft for its calls.
 *
 * <p>Holds live in this process. Without {@linkplain LedgerCreditMeterBuilder#leases leases} they
 * are measured against the account's snapshot, which bounds the calls of this process only. With
 * leases (several processes sharing one ledger), each process leases a slice of the account's
 * credit from the ledger and holds against its slice ({@link LeaseKeeper}); the ledger keeps the
 * slices of all processes within the account's credit, so the bound holds across the fleet.
 *
 * <p>A call without an account, or one a trusted key asked not to charge, is admitted as the guard
 * says and never charged. A call on an account the ledger does not know is denied ({@link
 * Admission.Reason#DENIED_UNKNOWN_ACCOUNT}).
 */
public final class LedgerCreditMeter implements CreditMeter, AutoCloseable {

  /**
   * How long {@link MeteredCall#beforeRelay()} waits for a call's record to survive a crash (one
   * fsync of the ledger's journal, normally done long before the upstream answers).
   */
  public static final Duration DEFAULT_RECORD_WAIT = Duration.ofSeconds(1);

  /**
   * How long a hold lives when its call neither settles nor ends (a call stuck past every timeout).
   */
  public static final Duration DEFAULT_HOLD_TIMEOUT = Duration.ofMinutes(10);

  /** How long a lease of an account's credit lasts unless renewed (renewed every sixth of it). */
  public static final Duration DEFAULT_LEASE_TERM = Duration.ofSeconds(30);

  /** A lease grows by this many holds of the size that made it grow. */
  public static final long DEFAULT_LEASE_SLICE_CALLS = 8;

  /** The smallest output cap a clamped call is given; below it the call is refused. */
  public static final long DEFAULT_MINIMUM_CLAMP_TOKENS = 16;

  /** The prefix of the event ids the meter draws for calls whose client gave none. */
  public static final String DRAWN_EVENT_ID_PREFIX = "evt_";

  private static final Logger LOG = LoggerFactory.getLogger(LedgerCreditMeter.class);
  private static final long SWEEP_MILLIS = 1000;

  /**
   * How long a snapshot read from the store, for a call the guard admitted without one, serves the
   * account's next such calls. A block set meanwhile is seen at most this late, and only while the
   * cache fails; the credit bound does not depend on it (what this process committed since the
   * snapshot's version counts as pending, and other processes spend only their leases). Only for a
   * meter that leases credit: without a lease the room is measured against the snapshot itself.
   */
  public static final Duration FETCHED_SNAPSHOT_TTL = Duration.ofSeconds(1);

  /** This process, as holds name their holder. */
  static final String INSTANCE = instanceName();

  private static String instanceName() {
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException | RuntimeException e) {
      host = "localhost";
    }
    return ProcessHandle.current().pid() + "@" + host;
  }

  private final CreditBalanceGuard guard;
  private final MeteringLedger ledger;
  private final PriceBook prices;
  private final CreditMode mode;
  private final ShortfallPolicy shortfall;
  private final long minimumClampTokens;
  private final long overdraft;
  private final long holdTimeoutNanos;
  private final long recordWaitNanos;
  private final MeterListener listener;
  private final Ticker ticker;
  private final HoldBook holds = new HoldBook();
  private final LeaseKeeper leases;
  private final CreditPolicies policies;

  /** How this process names itself on its holds: its lease holder name when it leases credit. */
  private final String instance;

  private final ScheduledExecutorService sweeper;

  /** Event ids of the calls open in this process, as account + "\n" + event id. */
  private final Set<String> open = ConcurrentHashMap.newKeySet();

  private final ThrottledLog ledgerLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  /** Where a call the guard admitted without a snapshot reads the account's. */
  private final StoreReads storeReads;

  LedgerCreditMeter(LedgerCreditMeterBuilder b) {
    this.guard = Objects.requireNonNull(b.guard, "guard");
    this.ledger = Objects.requireNonNull(b.ledger, "ledger");
    this.mode = b.mode;
    if ((mode == CreditMode.STRICT || b.policies != null) && b.prices == null) {
      throw new IllegalStateException("a strict meter needs the price book to price its holds");
    }
    this.prices = b.prices;
    this.shortfall = b.shortfall;
    this.minimumClampTokens = b.minimumClampTokens;
    this.overdraft = b.overdraft;
    this.holdTimeoutNanos = b.holdTimeout.toNanos();
    this.recordWaitNanos = b.recordWait.toNanos();
    this.listener = b.listener;
    this.ticker = b.ticker;
    this.leases =
        b.leases == null
            ? null
            : new LeaseKeeper(b.leases, holds, b.leaseTerm, b.leaseSliceCalls, ticker, listener);
    this.storeReads = new StoreReads(b.store, leases != null, ticker, ledgerLog);
    this.policies = b.policies;
    this.instance = leases == null ? INSTANCE : b.leases.holder();
    this.sweeper =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("creditgate-hold-sweeper").factory());
    sweeper.scheduleWithFixedDelay(
        this::expireHolds, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
  }

  public static LedgerCreditMeterBuilder builder() {
    return new LedgerCreditMeterBuilder();
  }

  @Override
  public MeteredCall open(BillingContext context, Estimate estimate) {
    Objects.requireNonNull(estimate, "estimate");
    BillingContext billing = Objects.requireNonNull(context, "context").normalize();
    if (!billing.hasAccount() || billing.skipCharge()) {
      return new UnmeteredCall(guard.check(billing));
    }
    // A drawn id cannot have been spent: only a client's Idempotency-Key costs the ledger a read.
    boolean clientChoseId = !billing.eventId().isEmpty();
    if (clientChoseId) {
      LedgerChecks.requireEventId(billing.eventId());
    } else {
      billing =
          billing.withEventId(
              DRAWN_EVENT_ID_PREFIX + UUID.randomUUID().toString().replace("-", ""));
    }
    String claim = billing.accountId() + "\n" + billing.eventId();
    if (!open.add(claim)) {
      throw new IdempotencyKeyReusedException(billing.eventId(), true);
    }
    boolean claimed = false;
    try {
      if (clientChoseId) {
        claimed = claimKey(billing);
      }
      Admission admission = guard.check(billing);
      if (admission.reason() == Admission.Reason.NO_SNAPSHOT) {
        admission = Admission.of(Admission.Reason.DENIED_UNKNOWN_ACCOUNT);
      }
      if (!ledger.acceptsCharges()) {
        // Fail closed: the ledger could not keep this call's charge.
        ledgerLog.warn(
            ticker.read(),
            "the ledger cannot take charges (its spool is full), call denied, account_id={}",
            billing.accountId());
        admission = Admission.of(Admission.Reason.DENIED_UNAVAILABLE);
      }
      CreditPolicy policy = policy(billing.accountId());
      if (policy.modeOr(mode) == CreditMode.CHECK
          && admission.isAdmitted()
          && unpricedFallback(billing, estimate) == 0) {
        // Nothing would bound or charge its cost: refused, as a strict meter refuses it.
        admission = Admission.of(Admission.Reason.DENIED_UNPRICED);
      }
      StrictHold hold = null;
      if (policy.modeOr(mode) == CreditMode.STRICT
          && admission.reason() != Admission.Reason.DENIED_UNKNOWN_ACCOUNT) {
        hold = StrictHold.place(this, billing, estimate, admission, policy);
        admission = hold.admission();
      }
      ChargeIntent intent =
          admission.isAdmitted()
              ? recordIntent(billing, hold == null ? estimate : hold.estimate())
              : null;
      return new LedgerCall(this, billing, estimate, admission, intent, claim, claimed, hold);
    } catch (RuntimeException e) {
      if (claimed) {
        releaseKey(billing);
      }
      open.remove(claim);
      throw e;
    }
  }

  /** Calls open in this process. */
  public int openCalls() {
    return open.size();
  }

  /** The credits held by this process's calls in flight. */
  public long heldCredits() {
    return holds.totalHeld();
  }

  /** How many holds are open in this process. */
  public long openHolds() {
    return holds.openHolds();
  }

  /**
   * One open hold, for operators.
   *
   * @param deadline when the hold is released if its call has neither settled nor ended
   * @param instance the process holding it ({@code pid@host})
   */
  public record OpenHold(
      String accountId,
      String eventId,
      long credits,
      java.time.Instant deadline,
      String instance) {}

  /** The holds this process has open for {@code accountId}. */
  public List<OpenHold> holds(String accountId) {
    long now = ticker.read();
    java.time.Instant wall = java.time.Instant.now();
    return holds.holds(accountId).stream()
        .map(
            h ->
                new OpenHold(
                    h.accountId(),
                    h.eventId(),
                    h.credits(),
                    wall.plusNanos(h.deadlineNanos() - now),
                    instance))
        .toList();
  }

  /** The credits this process holds for {@code accountId}. */
  public long heldCredits(String accountId) {
    return holds.holds(accountId).stream().mapToLong(HoldBook.Hold::credits).sum();
  }

  /**
   * Releases a hold by hand (an operator's decision): its credit counts as available again at once.
   * The call, if still running, is still charged when it settles. Returns false when no such hold
   * is open in this process.
   */
  public boolean releaseHold(String accountId, String eventId) {
    List<HoldBook.Hold> open = holds.holds(accountId);
    for (HoldBook.Hold hold : open) {
      if (hold.eventId().equals(eventId) && holds.release(accountId, eventId)) {
        LOG.warn(
            "hold released by an operator: account_id={} event_id={} credits={}",
            accountId,
            eventId,
            hold.credits());
        listener.onHoldEnded(
            BillingContext.forAccount(accountId).withEventId(eventId),
            hold.credits(),
            MeterListener.HoldEnd.RELEASED);
        return true;
      }
    }
    return false;
  }

  /** Whether this meter leases accounts' credit from the ledger (several processes share it). */
  public boolean leasesCredit() {
    return leases != null;
  }

  /** The live leases of the account's credit, of every process; empty when not leasing. */
  public List<Lease> leases(String accountId) {
    return leases == null ? List.of() : leases.leases(accountId);
  }

  void leaseFailure(String accountId, RuntimeException e) {
    ledgerLog.warn(
        ticker.read(),
        "cannot lease credit, call denied, account_id={}: {}",
        accountId,
        e.toString());
  }

  /** The meter's mode. */
  public CreditMode mode() {
    return mode;
  }

  /**
   * The settings in force for an account whose own settings are {@code own}: each of its own, else
   * the meter's.
   */
  public CreditPolicy effective(CreditPolicy own) {
    return new CreditPolicy(
        java.util.Optional.of(own.modeOr(mode)),
        java.util.Optional.of(own.shortfallOr(shortfall)),
        java.util.OptionalLong.of(own.overdraftOr(overdraft)));
  }

  /** The settings in force for the account: its own where set, else the meter's. */
  public CreditPolicy effectivePolicy(String accountId) {
    return effective(policy(accountId));
  }

  /**
   * The account's own credit settings; none when the meter has no policies or they cannot be read
   * (the meter's settings then apply, and the failure is logged).
   */
  private CreditPolicy policy(String accountId) {
    if (policies == null) {
      return CreditPolicy.NONE;
    }
    try {
      return policies.policy(accountId).orElse(CreditPolicy.NONE);
    } catch (RuntimeException e) {
      ledgerLog.warn(
          ticker.read(),
          "cannot read the account's credit policy, the gateway's applies, account_id={}: {}",
          accountId,
          e.toString());
      return CreditPolicy.NONE;
    }
  }

  /**
   * Claims the client's key in the ledger, shared by every process on it, before the upstream is
   * called; true when claimed. Refuses a key charged before, or claimed by a call being served
   * elsewhere. With the ledger's database away, the key is checked against what the ledger holds
   * locally only (its queued and spooled charges) and served unclaimed: its charge then meets the
   * ledger's unique event id.
   *
   * @throws IdempotencyKeyReusedException when the key cannot be used
   */
  private boolean claimKey(BillingContext billing) {
    EventClaim found;
    try {
      found = ledger.claimEvent(billing.accountId(), billing.eventId(), holdTimeout());
    } catch (LedgerUnavailableException e) {
      ledgerLog.warn(
          ticker.read(),
          "cannot claim the idempotency key in the ledger, serving it unclaimed, account_id={}:"
              + " {}",
          billing.accountId(),
          e.getMessage());
      return false;
    }
    return switch (found) {
      case CLAIMED -> true;
      case CHARGED -> throw new IdempotencyKeyReusedException(billing.eventId(), false);
      case IN_PROGRESS -> throw new IdempotencyKeyReusedException(billing.eventId(), true);
    };
  }

  /**
   * Gives the key back to every process: its call ended without a charge. Should the ledger's
   * database be away, the claim expires after the hold timeout.
   */
  void releaseKey(BillingContext billing) {
    try {
      ledger.releaseEvent(billing.accountId(), billing.eventId());
    } catch (RuntimeException e) {
      ledgerLog.warn(
          ticker.read(),
          "cannot release the idempotency key's claim (it expires after the hold timeout),"
              + " account_id={}: {}",
          billing.accountId(),
          e.toString());
    }
  }

  private Duration holdTimeout() {
    return Duration.ofNanos(holdTimeoutNanos);
  }

  /**
   * Records the call with the ledger before it is served, with its estimate: a write-behind ledger
   * charges the estimate should a crash take the real charge. Should that fail, the call is served
   * and charged as without a record.
   */
  private ChargeIntent recordIntent(BillingContext billing, Estimate estimate) {
    ChargeRequest request =
        LedgerCall.chargeRequest(
            billing, estimate, estimate.usage(), UsageSource.ESTIMATED, "", 0, 0);
    try {
      return ledger.recordIntent(request);
    } catch (LedgerUnavailableException e) {
      ledgerLog.warn(
          ticker.read(),
          "cannot record the call's intent, account_id={}: {}",
          billing.accountId(),
          e.toString());
      return ChargeIntent.direct(ledger);
    }
  }

  /**
   * For a call no price rule prices, the price book's fallback (credits per 1,000 tokens, 0 for
   * none); -1 for a priced call, or one that cannot be told (no price book, unreadable rules).
   */
  long unpricedFallback(BillingContext billing, Estimate estimate) {
    try {
      return prices != null
              && prices
                  .quote(billing.scene(), estimate.provider(), estimate.model(), Usage.ZERO)
                  .unpriced()
          ? prices.unpricedFallbackCreditsPer1kTokens()
          : -1;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** Releases the holds past their deadline now; the meter's sweeper does this every second. */
  public void expireHolds() {
    try {
      List<HoldBook.Hold> expired = holds.expire(ticker.read());
      for (HoldBook.Hold hold : expired) {
        LOG.warn(
            "hold expired before its call ended, released: account_id={} event_id={} credits={}",
            hold.accountId(),
            hold.eventId(),
            hold.credits());
        listener.onHoldEnded(
            BillingContext.forAccount(hold.accountId()).withEventId(hold.eventId()),
            hold.credits(),
            MeterListener.HoldEnd.EXPIRED);
      }
    } catch (RuntimeException e) {
      LOG.error("hold sweep failed", e);
    }
  }

  /**
   * Stops the hold sweeper, and gives back the leases of accounts with no hold open. Calls in
   * flight may still settle.
   */
  @Override
  public void close() {
    sweeper.shutdownNow();
    if (leases != null) {
      leases.close();
    }
  }

  MeteringLedger ledger() {
    return ledger;
  }

  PriceBook prices() {
    return prices;
  }

  HoldBook holds() {
    return holds;
  }

  /** The keeper of this process's credit leases; null when holds are measured against snapshots. */
  LeaseKeeper leaseKeeper() {
    return leases;
  }

  ShortfallPolicy shortfall() {
    return shortfall;
  }

  long minimumClampTokens() {
    return minimumClampTokens;
  }

  long overdraft() {
    return overdraft;
  }

  long holdTimeoutNanos() {
    return holdTimeoutNanos;
  }

  MeterListener listener() {
    return listener;
  }

  Ticker ticker() {
    return ticker;
  }

  long recordWaitNanos() {
    return recordWaitNanos;
  }

  void release(String claim) {
    open.remove(claim);
  }

  /**
   * The account's snapshot from the store, for an admission the guard took without one; null when
   * there is none or the store fails.
   */
  CreditSnapshot fetch(String accountId) {
    return storeReads.fetch(accountId);
  }

  /**
   * The room an account has for this process's holds: its lease (less its unwritten charges) when
   * the meter leases credit, else its snapshot's credit less its pending debits, plus the
   * overdraft.
   */
  long room(String accountId, CreditSnapshot snapshot, long overdraft) {
    return leases != null ? leases.room(accountId) : snapshotRoom(accountId, snapshot, overdraft);
  }

  /**
   * The account's credit in its snapshot, less its pending debits, plus the overdraft: what the
   * account has for holds as this process sees it.
   */
  long snapshotRoom(String accountId, CreditSnapshot snapshot, long overdraft) {
    long pending = Math.max(0, ledger.pendingDebits(accountId, snapshot));
    long room = snapshot.availableCredit() - pending;
    return room > Long.MAX_VALUE - overdraft ? Long.MAX_VALUE : room + overdraft;
  }

  /**
   * A call nothing is charged for: admitted or denied as the guard says, settled as not metered.
   */
  private record UnmeteredCall(Admission admission) implements MeteredCall {

    @Override
    public boolean metered() {
      return false;
    }

    @Override
    public void beforeRelay() {}

    @Override
    public dev.creditgate.meter.Settlement settle(
        dev.creditgate.pricing.Usage usage, UsageSource source) {
      return dev.creditgate.meter.Settlement.NOT_METERED;
    }

    @Override
    public void abandon(String reason) {}

    @Override
    public void close() {}
  }
}

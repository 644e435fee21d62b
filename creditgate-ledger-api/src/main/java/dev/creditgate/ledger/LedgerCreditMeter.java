package dev.creditgate.ledger;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.internal.ThrottledLog;
import dev.creditgate.meter.CreditMeter;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.IdempotencyKeyReusedException;
import dev.creditgate.meter.MeterListener;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.UsageSource;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The credit meter over a {@link CreditBalanceGuard} and a {@link MeteringLedger}: one call is
 * claimed by its event id in this process, checked against the ledger's earlier charges when its
 * client chose the id, admitted by the guard (which counts the account's charges still queued in
 * the ledger through its {@link dev.creditgate.PendingDebits}), recorded with the ledger as an
 * intent carrying its estimate, and charged exactly once.
 *
 * <p>A call without an account, or one a trusted key asked not to charge, is admitted as the guard
 * says and never charged. A call on an account the ledger does not know is denied ({@link
 * Admission.Reason#DENIED_UNKNOWN_ACCOUNT}): a gateway that sells credit serves no calls to an
 * account nobody opened.
 */
public final class LedgerCreditMeter implements CreditMeter {

  /**
   * How long {@link MeteredCall#beforeRelay()} waits for a call's record to survive a crash (one
   * fsync of the ledger's journal, normally done long before the upstream answers).
   */
  public static final Duration DEFAULT_RECORD_WAIT = Duration.ofSeconds(1);

  /** The prefix of the event ids the meter draws for calls whose client gave none. */
  public static final String DRAWN_EVENT_ID_PREFIX = "evt_";

  private static final Logger LOG = LoggerFactory.getLogger(LedgerCreditMeter.class);

  private final CreditBalanceGuard guard;
  private final MeteringLedger ledger;
  private final long recordWaitNanos;
  private final MeterListener listener;
  private final Ticker ticker;

  /** Event ids of the calls open in this process, as account + "\n" + event id. */
  private final Set<String> open = ConcurrentHashMap.newKeySet();

  private final ThrottledLog ledgerLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  private LedgerCreditMeter(Builder b) {
    this.guard = Objects.requireNonNull(b.guard, "guard");
    this.ledger = Objects.requireNonNull(b.ledger, "ledger");
    this.recordWaitNanos = b.recordWait.toNanos();
    this.listener = b.listener;
    this.ticker = b.ticker;
  }

  public static Builder builder() {
    return new Builder();
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
    try {
      if (clientChoseId && chargedBefore(billing)) {
        throw new IdempotencyKeyReusedException(billing.eventId(), false);
      }
      Admission admission = guard.check(billing);
      if (admission.reason() == Admission.Reason.NO_SNAPSHOT) {
        admission = Admission.of(Admission.Reason.DENIED_UNKNOWN_ACCOUNT);
      }
      ChargeIntent intent = admission.isAdmitted() ? intend(billing, estimate) : null;
      return new LedgerCall(this, billing, estimate, admission, intent, claim);
    } catch (RuntimeException e) {
      open.remove(claim);
      throw e;
    }
  }

  /** Calls open in this process. */
  public int openCalls() {
    return open.size();
  }

  private boolean chargedBefore(BillingContext billing) {
    try {
      return ledger.eventRecorded(billing.accountId(), billing.eventId());
    } catch (LedgerUnavailableException e) {
      // The charge itself spools, and the ledger never records a second entry for the event id.
      ledgerLog.warn(
          ticker.read(),
          "cannot check the idempotency key, account_id={}: {}",
          billing.accountId(),
          e.getMessage());
      return false;
    }
  }

  /**
   * Records the call with the ledger before it is served, with its estimate: a write-behind ledger
   * charges the estimate should a crash take the real charge. Should that fail, the call is served
   * and charged as without a record.
   */
  private ChargeIntent intend(BillingContext billing, Estimate estimate) {
    ChargeRequest request =
        LedgerCall.chargeRequest(billing, estimate, estimate.usage(), UsageSource.ESTIMATED);
    try {
      return ledger.intend(request);
    } catch (LedgerUnavailableException e) {
      ledgerLog.warn(
          ticker.read(),
          "cannot record the call's intent, account_id={}: {}",
          billing.accountId(),
          e.toString());
      return ChargeIntent.direct(ledger);
    }
  }

  MeteringLedger ledger() {
    return ledger;
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
    public Settlement settle(dev.creditgate.pricing.Usage usage, UsageSource source) {
      return Settlement.NOT_METERED;
    }

    @Override
    public void abandon(String reason) {}

    @Override
    public void close() {}
  }

  /** Options of a {@link LedgerCreditMeter}; the guard and the ledger are required. */
  public static final class Builder {
    private CreditBalanceGuard guard;
    private MeteringLedger ledger;
    private Duration recordWait = DEFAULT_RECORD_WAIT;
    private MeterListener listener = MeterListener.NOOP;
    private Ticker ticker = Ticker.systemTicker();

    private Builder() {}

    public Builder guard(CreditBalanceGuard guard) {
      this.guard = Objects.requireNonNull(guard, "guard");
      return this;
    }

    public Builder ledger(MeteringLedger ledger) {
      this.ledger = Objects.requireNonNull(ledger, "ledger");
      return this;
    }

    /**
     * How long {@link MeteredCall#beforeRelay()} waits for the call's record to be durable; {@link
     * Duration#ZERO} does not wait (a crash in that moment may then lose a served call's charge).
     */
    public Builder recordWait(Duration wait) {
      if (wait == null || wait.isNegative()) {
        throw new IllegalArgumentException("recordWait must be zero or positive, but was " + wait);
      }
      this.recordWait = wait;
      return this;
    }

    public Builder listener(MeterListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** The time source for the waits and latencies reported; tests pass a fake. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * @throws NullPointerException when the guard or the ledger is missing
     */
    public LedgerCreditMeter build() {
      return new LedgerCreditMeter(this);
    }
  }
}

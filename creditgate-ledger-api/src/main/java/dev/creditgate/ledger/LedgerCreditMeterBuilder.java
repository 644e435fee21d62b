package dev.creditgate.ledger;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditSnapshotProvider;
import dev.creditgate.meter.CreditMode;
import dev.creditgate.meter.MeterListener;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.ShortfallPolicy;
import java.time.Duration;
import java.util.Objects;

/** Options of a {@link LedgerCreditMeter}; the guard and the ledger are required. */
public final class LedgerCreditMeterBuilder {
  CreditBalanceGuard guard;
  MeteringLedger ledger;
  PriceBook prices;
  CreditSnapshotProvider store;
  CreditMode mode = CreditMode.STRICT;
  ShortfallPolicy shortfall = ShortfallPolicy.REJECT;
  long minimumClampTokens = LedgerCreditMeter.DEFAULT_MINIMUM_CLAMP_TOKENS;
  long overdraft;
  Duration holdTimeout = LedgerCreditMeter.DEFAULT_HOLD_TIMEOUT;
  Duration recordWait = LedgerCreditMeter.DEFAULT_RECORD_WAIT;
  MeterListener listener = MeterListener.NOOP;
  Ticker ticker = Ticker.systemTicker();
  CreditLeases leases;
  CreditPolicies policies;
  Duration leaseTerm = LedgerCreditMeter.DEFAULT_LEASE_TERM;
  long leaseSliceCalls = LedgerCreditMeter.DEFAULT_LEASE_SLICE_CALLS;

  LedgerCreditMeterBuilder() {}

  /**
   * Where the meter reads accounts' own credit settings (mode, shortfall policy, overdraft), which
   * override the meter's; without it every account has the meter's. A meter with policies needs the
   * price book, since any account may be strict.
   */
  public LedgerCreditMeterBuilder policies(CreditPolicies policies) {
    this.policies = Objects.requireNonNull(policies, "policies");
    return this;
  }

  /**
   * Where a strict meter leases slices of accounts' credit, so that several processes sharing one
   * ledger together never hold more than an account has. Without it, holds are measured against the
   * account's snapshot, which bounds the calls of this process only.
   */
  public LedgerCreditMeterBuilder leases(CreditLeases leases) {
    this.leases = Objects.requireNonNull(leases, "leases");
    return this;
  }

  /**
   * How long a lease lasts unless renewed (default 30 seconds): a process that dies takes its
   * leases' credit with it for at most this long; one that cannot reach the ledger stops placing
   * holds against them a third of it before they expire.
   */
  public LedgerCreditMeterBuilder leaseTerm(Duration term) {
    if (term == null || term.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("leaseTerm must be at least 1s, but was " + term);
    }
    this.leaseTerm = term;
    return this;
  }

  /**
   * How many holds of the size that made a lease grow it grows by (default {@value
   * #DEFAULT_LEASE_SLICE_CALLS}): larger slices ask the ledger less often, smaller ones leave more
   * of a small balance to other processes.
   */
  public LedgerCreditMeterBuilder leaseSliceCalls(long calls) {
    if (calls < 1 || calls > 1_000_000) {
      throw new IllegalArgumentException(
          "leaseSliceCalls must be between 1 and 1000000, but was " + calls);
    }
    this.leaseSliceCalls = calls;
    return this;
  }

  public LedgerCreditMeterBuilder guard(CreditBalanceGuard guard) {
    this.guard = Objects.requireNonNull(guard, "guard");
    return this;
  }

  public LedgerCreditMeterBuilder ledger(MeteringLedger ledger) {
    this.ledger = Objects.requireNonNull(ledger, "ledger");
    return this;
  }

  /** The price rules a strict meter prices its holds with (required in strict mode). */
  public LedgerCreditMeterBuilder prices(PriceBook prices) {
    this.prices = Objects.requireNonNull(prices, "prices");
    return this;
  }

  /**
   * Where a strict meter reads an account's credit when the guard admitted without a snapshot (its
   * cache failed); without one, such a call is denied.
   */
  public LedgerCreditMeterBuilder store(CreditSnapshotProvider store) {
    this.store = Objects.requireNonNull(store, "store");
    return this;
  }

  /** {@link CreditMode#STRICT} (default) or {@link CreditMode#CHECK}. */
  public LedgerCreditMeterBuilder mode(CreditMode mode) {
    this.mode = Objects.requireNonNull(mode, "mode");
    return this;
  }

  /** What a strict meter does when a call's worst case does not fit (default reject). */
  public LedgerCreditMeterBuilder shortfall(ShortfallPolicy shortfall) {
    this.shortfall = Objects.requireNonNull(shortfall, "shortfall");
    return this;
  }

  /**
   * The smallest output cap a clamped call gets (default {@value
   * LedgerCreditMeter#DEFAULT_MINIMUM_CLAMP_TOKENS}).
   */
  public LedgerCreditMeterBuilder minimumClampTokens(long tokens) {
    if (tokens < 1) {
      throw new IllegalArgumentException(
          "minimumClampTokens must be at least 1, but was " + tokens);
    }
    this.minimumClampTokens = tokens;
    return this;
  }

  /** Credits an account may spend below zero in strict mode (default 0). */
  public LedgerCreditMeterBuilder overdraft(long credits) {
    if (credits < 0 || credits > LedgerChecks.MAX_AMOUNT) {
      throw new IllegalArgumentException(
          "overdraft must be between 0 and " + LedgerChecks.MAX_AMOUNT + ", but was " + credits);
    }
    this.overdraft = credits;
    return this;
  }

  /** How long a hold lives when its call neither settles nor ends (default 10 minutes). */
  public LedgerCreditMeterBuilder holdTimeout(Duration timeout) {
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("holdTimeout must be positive, but was " + timeout);
    }
    this.holdTimeout = timeout;
    return this;
  }

  /**
   * How long {@link MeteredCall#beforeRelay()} waits for the call's record to be durable; {@link
   * Duration#ZERO} does not wait (a crash in that moment may then lose a served call's charge).
   */
  public LedgerCreditMeterBuilder recordWait(Duration wait) {
    if (wait == null || wait.isNegative()) {
      throw new IllegalArgumentException("recordWait must be zero or positive, but was " + wait);
    }
    this.recordWait = wait;
    return this;
  }

  public LedgerCreditMeterBuilder listener(MeterListener listener) {
    this.listener = Objects.requireNonNull(listener, "listener");
    return this;
  }

  /** The time source for hold deadlines, waits and latencies; tests pass a fake. */
  public LedgerCreditMeterBuilder ticker(Ticker ticker) {
    this.ticker = Objects.requireNonNull(ticker, "ticker");
    return this;
  }

  /**
   * @throws NullPointerException when the guard or the ledger is missing
   * @throws IllegalStateException when a strict meter has no price book
   */
  public LedgerCreditMeter build() {
    return new LedgerCreditMeter(this);
  }
}

package dev.creditgate.ledger;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.MeterListener;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call opened by a {@link LedgerCreditMeter}. The first of {@link #settle} and {@link #abandon}
 * decides the call's end; whoever comes later gets that same result. Closing ends the ledger's
 * intent and releases the call's event id in the meter.
 */
final class LedgerCall implements MeteredCall {

  private static final Logger LOG = LoggerFactory.getLogger(LedgerCall.class);

  private final LedgerCreditMeter meter;
  private final BillingContext billing;
  private final Estimate estimate;
  private final Admission admission;

  /** Null when the call was denied: nothing was recorded with the ledger. */
  private final ChargeIntent intent;

  private final String claim;

  /** Whether the call's key is claimed in the ledger: given back when it ends without a charge. */
  private final boolean claimedInLedger;

  /** Whether a charge of the call was handed to the ledger. */
  private volatile boolean charging;

  /** A strict meter's hold; null in check mode. */
  private final StrictHold hold;

  /** The room left after this call: after its hold, then after its charge; -1 when unknown. */
  private volatile long remaining;

  private final AtomicBoolean ended = new AtomicBoolean();
  private final CompletableFuture<Settlement> result = new CompletableFuture<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  LedgerCall(
      LedgerCreditMeter meter,
      BillingContext billing,
      Estimate estimate,
      Admission admission,
      ChargeIntent intent,
      String claim,
      boolean claimedInLedger,
      StrictHold hold) {
    this.meter = meter;
    this.billing = billing;
    this.estimate = estimate;
    this.admission = admission;
    this.intent = intent;
    this.claim = claim;
    this.claimedInLedger = claimedInLedger;
    this.hold = hold;
    this.remaining = hold == null ? -1 : hold.remaining();
  }

  @Override
  public Admission admission() {
    return admission;
  }

  @Override
  public boolean metered() {
    return true;
  }

  @Override
  public long reserved() {
    return hold == null ? 0 : hold.credits();
  }

  @Override
  public OptionalLong clampedOutputTokens() {
    return hold != null && hold.clamped()
        ? OptionalLong.of(hold.estimate().maxOutputTokens())
        : OptionalLong.empty();
  }

  @Override
  public long affordableOutputTokens() {
    return hold == null ? -1 : hold.affordable();
  }

  @Override
  public OptionalLong remaining() {
    long left = remaining;
    return left < 0 ? OptionalLong.empty() : OptionalLong.of(left);
  }

  @Override
  public long outputBudget() {
    return hold == null || hold.credits() == 0
        ? Long.MAX_VALUE
        : hold.estimate().totalOutputTokens();
  }

  @Override
  public void beforeRelay() {
    long wait = meter.recordWaitNanos();
    if (intent == null || wait == 0) {
      return;
    }
    long start = meter.ticker().read();
    try {
      if (!intent.awaitDurable(java.time.Duration.ofNanos(wait))) {
        LOG.warn(
            "the call's record was not durable within {} ms, request_id={}",
            wait / 1_000_000,
            billing.requestId());
      }
    } catch (RuntimeException e) {
      LOG.warn(
          "the call's record cannot be made durable, request_id={}: {}",
          billing.requestId(),
          e.toString());
    } finally {
      meter.listener().onRecordWait(meter.ticker().read() - start);
    }
  }

  @Override
  public Settlement settle(Usage usage, UsageSource source) {
    return settle(usage, source, "");
  }

  /**
   * Settles the call; the charge's entry names {@code fallbackReason} as {@code usage_fallback} in
   * its metadata when it is not empty.
   */
  @Override
  public Settlement settle(Usage usage, UsageSource source, String fallbackReason) {
    Objects.requireNonNull(usage, "usage");
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(fallbackReason, "fallbackReason");
    if (!ended.compareAndSet(false, true)) {
      return result.join();
    }
    if (intent == null) {
      // A denied call was never served; nothing to charge.
      result.complete(Settlement.abandoned());
      return result.join();
    }
    charging = true;
    long start = meter.ticker().read();
    Settlement settlement;
    long overrun = 0;
    try {
      if (hold != null) {
        // Beyond a live hold, only input above its counted estimate; a hold that expired or was
        // released no longer covers anything, so all of a late charge is beyond it.
        long cost = priceOf(usage);
        boolean live =
            hold.credits() > 0 && meter.holds().isOpen(billing.accountId(), billing.eventId());
        overrun = live ? Math.max(0, cost - hold.credits()) : cost;
      }
      // A check-mode call no rule prices is charged the ledger's fallback, which its entry names.
      long fallback = hold == null ? meter.unpricedFallback(billing, estimate) : -1;
      settlement =
          settlement(
              charge(
                  chargeRequest(
                      billing,
                      hold == null ? estimate : hold.estimate(),
                      usage,
                      source,
                      fallbackReason,
                      overrun,
                      Math.max(0, fallback))),
              source);
    } catch (RuntimeException e) {
      LOG.error(
          "charge failed, account_id={}, event_id={}, usage={}: {}",
          billing.accountId(),
          billing.eventId(),
          usage,
          e.toString());
      settlement = Settlement.failed(source);
    }
    // The charge is with the ledger (a pending debit) before the hold goes, so the account's room
    // always counts the call: as its hold, its pending debit, or both for a moment.
    endHold(MeterListener.HoldEnd.SETTLED);
    if (hold != null && remaining >= 0) {
      remaining = Math.max(0, remaining + hold.credits() - settlement.credits());
    }
    if (overrun > 0) {
      LOG.warn(
          "call charged {} credits beyond its hold of {} (input beyond its counted estimate, or a"
              + " hold that expired or was released first), account_id={} event_id={}",
          overrun,
          hold.credits(),
          billing.accountId(),
          billing.eventId());
      meter.listener().onOverrun(billing, overrun);
    }
    meter.listener().onSettled(billing, settlement, meter.ticker().read() - start);
    result.complete(settlement);
    return settlement;
  }

  /**
   * Charges the call. A conflict means another gateway served the same Idempotency-Key at the same
   * moment and charged it first: this call was served too, so it is charged under an id of its own
   * ({@link ChargeRequest#underOwnId()}), as the ledger does for a conflict it meets behind the
   * answer.
   */
  private ChargeResult charge(ChargeRequest request) {
    try {
      return intent.charge(request);
    } catch (IdempotencyConflictException e) {
      ChargeRequest own = request.underOwnId();
      LOG.warn(
          "idempotency key raced on another gateway; charging this call as {}, request_id={}",
          own.eventId(),
          billing.requestId());
      return intent.charge(own);
    }
  }

  @Override
  public void abandon(String reason) {
    if (ended.compareAndSet(false, true)) {
      LOG.debug("call ended without a charge ({}), request_id={}", reason, billing.requestId());
      endHold(MeterListener.HoldEnd.RELEASED);
      result.complete(Settlement.abandoned());
    }
  }

  private void endHold(MeterListener.HoldEnd end) {
    if (hold != null
        && hold.credits() > 0
        && meter.holds().release(billing.accountId(), billing.eventId())) {
      meter.listener().onHoldEnded(billing, hold.credits(), end);
    }
  }

  /**
   * What {@code usage} costs under the meter's price rules (the charge prices it again, the same
   * way).
   */
  private long priceOf(Usage usage) {
    try {
      return meter
          .prices()
          .quote(billing.scene(), estimate.provider(), estimate.model(), usage)
          .credits();
    } catch (ArithmeticException | IllegalArgumentException e) {
      return Long.MAX_VALUE;
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    abandon("closed");
    try {
      if (intent != null) {
        intent.close();
      }
      if (claimedInLedger && !charging) {
        // Denied, refused or failed before a charge: the key may be used again.
        meter.releaseKey(billing);
      }
    } finally {
      meter.release(claim);
    }
  }

  private static Settlement settlement(ChargeResult charged, UsageSource source) {
    Quote quote = charged.quote();
    long credits = quote == null ? 0 : quote.credits();
    boolean unpriced = quote != null && quote.unpriced();
    OptionalLong balance =
        charged.entry() == null
            ? OptionalLong.empty()
            : OptionalLong.of(charged.entry().balanceAfter());
    Settlement.Status status =
        switch (charged.status()) {
          case APPLIED -> Settlement.Status.APPLIED;
          case REPLAYED -> Settlement.Status.REPLAYED;
          case QUEUED -> Settlement.Status.QUEUED;
          case SPOOLED -> Settlement.Status.SPOOLED;
        };
    return new Settlement(status, credits, balance, source, unpriced);
  }

  /**
   * The charge of a call: its billing context, the model it is priced on, and its metadata ({@code
   * usage_fallback}: why the upstream's usage was not used; {@code overrun}: credits beyond the
   * hold; {@code unpriced_fallback_credits_per_1k_tokens} when no rule prices it and the ledger
   * charges that fallback instead).
   */
  static ChargeRequest chargeRequest(
      BillingContext billing,
      Estimate estimate,
      Usage usage,
      UsageSource source,
      String usageFallback,
      long overrun,
      long unpricedFallback) {
    StringBuilder meta = new StringBuilder(64).append("{\"alias\":");
    JsonText.quote(billing.modelAlias(), meta);
    if (!billing.conversationId().isEmpty()) {
      meta.append(",\"conversation_id\":");
      JsonText.quote(billing.conversationId(), meta);
    }
    if (!usageFallback.isEmpty()) {
      meta.append(",\"usage_fallback\":");
      JsonText.quote(usageFallback, meta);
    }
    if (overrun > 0) {
      meta.append(",\"overrun\":").append(overrun);
    }
    if (unpricedFallback > 0) {
      meta.append(",\"unpriced_fallback_credits_per_1k_tokens\":").append(unpricedFallback);
    }
    meta.append('}');
    return new ChargeRequest(
        billing.accountId(),
        billing.eventId(),
        billing.requestId(),
        billing.scene(),
        estimate.provider(),
        estimate.model(),
        usage,
        source == UsageSource.ESTIMATED,
        meta.toString());
  }
}

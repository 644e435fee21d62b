package dev.creditgate.ledger;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.ShortfallPolicy;
import dev.creditgate.pricing.Quote;
import java.util.function.LongSupplier;

/**
 * A strict meter's admission of one call: prices the call's worst case, holds it if it fits in the
 * account's room, or applies the shortfall policy (refuse, or lower the output cap to what the room
 * affords). Holds what it decided for the call: the hold, the estimate it was priced on, the room
 * left.
 */
final class StrictHold {

  /**
   * Guard denials a strict meter keeps whatever the account's room: the account may not spend at
   * all.
   */
  private static boolean finalDenial(Admission admission) {
    return switch (admission.reason()) {
      case DENIED_NON_POSITIVE_BALANCE, DENIED_PENDING_DEBITS -> false;
      default -> admission.isDenied();
    };
  }

  /** How many lease operations a call waits for or runs before it is refused. */
  private static final int MAX_GROW_ROUNDS = 8;

  private final Admission admission;
  private final Estimate estimate;
  private final long credits;
  private final long remaining;
  private final long affordable;
  private final boolean clamped;

  private StrictHold(
      Admission admission,
      Estimate estimate,
      long credits,
      long remaining,
      long affordable,
      boolean clamped) {
    this.admission = admission;
    this.estimate = estimate;
    this.credits = credits;
    this.remaining = remaining;
    this.affordable = affordable;
    this.clamped = clamped;
  }

  private static StrictHold denied(Admission admission, Estimate estimate, long affordable) {
    return new StrictHold(admission, estimate, 0, -1, affordable, false);
  }

  /**
   * Decides the call: keeps the guard's denial when the account may not spend at all, else holds
   * the call's worst case (or less, clamped) in the meter's hold book. The account's own {@code
   * policy} overrides the meter's shortfall policy and overdraft.
   */
  static StrictHold place(
      LedgerCreditMeter meter,
      BillingContext billing,
      Estimate estimate,
      Admission guard,
      CreditPolicy policy) {
    ShortfallPolicy shortfall = policy.shortfallOr(meter.shortfall());
    long overdraft = policy.overdraftOr(meter.overdraft());
    if (finalDenial(guard) || (guard.isDenied() && overdraft == 0)) {
      return denied(guard, estimate, guard.isDenied() ? 0 : -1);
    }
    // Admitted without a snapshot (the guard failed open): the hold is measured against the
    // store's, read here; a strict meter never admits a call it cannot measure.
    CreditSnapshot snapshot = guard.snapshot().orElseGet(() -> meter.fetch(billing.accountId()));
    if (snapshot == null) {
      return denied(Admission.of(Admission.Reason.DENIED_UNAVAILABLE), estimate, -1);
    }
    if (snapshot.blocked()) {
      return denied(Admission.of(Admission.Reason.DENIED_STORE_BLOCKED), estimate, 0);
    }
    String account = billing.accountId();
    LongSupplier room = () -> meter.room(account, snapshot, overdraft);
    Quote worst = worstCase(meter, billing, estimate);
    if (worst.unpriced()) {
      return denied(Admission.of(Admission.Reason.DENIED_UNPRICED), estimate, -1);
    }
    long deadline = meter.ticker().read() + meter.holdTimeoutNanos();
    long left;
    try {
      left = placeGrowing(meter, billing, worst.credits(), deadline, room, overdraft);
    } catch (LedgerUnavailableException e) {
      return unreachable(meter, billing, estimate, e);
    }
    if (left >= 0) {
      return new StrictHold(
          guard,
          estimate,
          worst.credits(),
          remaining(meter, account, snapshot, overdraft, left),
          -1,
          false);
    }
    long free = meter.holds().free(account, room);
    long affordable = affordableOutputTokens(meter, billing, estimate, free);
    if (shortfall == ShortfallPolicy.CLAMP && affordable >= meter.minimumClampTokens()) {
      Estimate lowered = estimate.withMaxOutputTokens(affordable);
      Quote cost = worstCase(meter, billing, lowered);
      left = place(meter, billing, cost.credits(), deadline, room);
      if (left >= 0) {
        meter.listener().onShortfall(billing, true);
        return new StrictHold(
            guard,
            lowered,
            cost.credits(),
            remaining(meter, account, snapshot, overdraft, left),
            -1,
            true);
      }
    }
    meter.listener().onShortfall(billing, false);
    if (meter.leaseKeeper() != null) {
      // Refused (not clamped, which still needs the room): the slack of this process's lease goes
      // back for the account's other processes.
      meter.leaseKeeper().shortOf(account);
    }
    return denied(Admission.of(Admission.Reason.DENIED_INSUFFICIENT_CREDIT), estimate, affordable);
  }

  /**
   * Places the hold; when it does not fit and the meter leases credit, grows the lease and tries
   * again, up to {@link #MAX_GROW_ROUNDS} times: after waiting for another call's lease operation
   * (which counted it), or after its own got what it needed but calls arriving meanwhile took it. A
   * call whose own lease operation found less free than it needed is refused: the account has no
   * more.
   */
  private static long placeGrowing(
      LedgerCreditMeter meter,
      BillingContext billing,
      long credits,
      long deadline,
      LongSupplier room,
      long overdraft) {
    long left = place(meter, billing, credits, deadline, room);
    LeaseKeeper keeper = meter.leaseKeeper();
    for (int round = 0; left < 0 && keeper != null && round < MAX_GROW_ROUNDS; round++) {
      long free = meter.holds().free(billing.accountId(), room);
      LeaseKeeper.Growth growth =
          keeper.grow(billing.accountId(), Math.max(0, credits - free), credits, overdraft);
      left = place(meter, billing, credits, deadline, room);
      if (growth == LeaseKeeper.Growth.SHORT) {
        break;
      }
    }
    if (left >= 0 && keeper != null) {
      keeper.placed(billing.accountId(), credits, left, overdraft);
    }
    return left;
  }

  /**
   * A strict meter that cannot reach the ledger to lease credit denies the call: it cannot tell
   * whether another process holds the credit.
   */
  private static StrictHold unreachable(
      LedgerCreditMeter meter,
      BillingContext billing,
      Estimate estimate,
      LedgerUnavailableException e) {
    meter.leaseFailure(billing.accountId(), e);
    return denied(Admission.of(Admission.Reason.DENIED_UNAVAILABLE), estimate, -1);
  }

  /**
   * The credit left for the account after the hold, as reported to the caller: the room itself, or,
   * when the room is a lease, the account's snapshot less this process's holds (other processes'
   * holds are not seen here).
   */
  private static long remaining(
      LedgerCreditMeter meter, String account, CreditSnapshot snapshot, long overdraft, long left) {
    if (meter.leaseKeeper() == null) {
      return left;
    }
    return Math.max(
        0, meter.holds().free(account, () -> meter.snapshotRoom(account, snapshot, overdraft)));
  }

  private static long place(
      LedgerCreditMeter meter,
      BillingContext billing,
      long credits,
      long deadline,
      LongSupplier room) {
    long left =
        meter
            .holds()
            .place(
                new HoldBook.Hold(billing.accountId(), billing.eventId(), credits, deadline), room);
    if (left >= 0) {
      meter.listener().onHoldPlaced(billing, credits);
    }
    return left;
  }

  /**
   * The call's worst case; a cost too large to count is priced at the largest amount (never fits).
   */
  private static Quote worstCase(
      LedgerCreditMeter meter, BillingContext billing, Estimate estimate) {
    try {
      return meter
          .prices()
          .worstCase(
              billing.scene(),
              estimate.provider(),
              estimate.model(),
              estimate.inputTokens(),
              estimate.totalOutputTokens());
    } catch (ArithmeticException | IllegalArgumentException e) {
      // Too large to price in a long: it fits in no account.
      return new Quote(Long.MAX_VALUE, Long.MAX_VALUE, 0, false);
    }
  }

  /**
   * The largest output cap per choice, up to the estimate's, whose worst case fits in {@code free}
   * credits; 0 when not even the input fits. Pricing grows with the output, so a binary search.
   */
  static long affordableOutputTokens(
      LedgerCreditMeter meter, BillingContext billing, Estimate estimate, long free) {
    if (free < 0 || worstCase(meter, billing, estimate.withMaxOutputTokens(0)).credits() > free) {
      return 0;
    }
    long low = 0;
    long high = estimate.maxOutputTokens();
    while (low < high) {
      long mid = low + (high - low + 1) / 2;
      if (worstCase(meter, billing, estimate.withMaxOutputTokens(mid)).credits() <= free) {
        low = mid;
      } else {
        high = mid - 1;
      }
    }
    return low;
  }

  Admission admission() {
    return admission;
  }

  /** The estimate the hold was priced on: the call's own, or with its output cap lowered. */
  Estimate estimate() {
    return estimate;
  }

  /** The credits held; zero when the call was denied. */
  long credits() {
    return credits;
  }

  /** The room left after the hold; -1 when denied. */
  long remaining() {
    return remaining;
  }

  /**
   * For a call denied for insufficient credit, the output tokens per choice its room affords; else
   * -1.
   */
  long affordable() {
    return affordable;
  }

  /** Whether the call's output cap was lowered to fit. */
  boolean clamped() {
    return clamped;
  }
}

package dev.creditgate;

import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The guard's decision for one call: admitted or denied, and why. An expected outcome, so a value
 * rather than an exception; {@link CreditBalanceGuard#guard} turns a denial into {@link
 * CreditBalanceBlockedException} for callers that prefer that.
 *
 * <p>Instances are shared per reason; compare with {@link #reason()}.
 */
public final class Admission {

  /** Why the guard decided as it did. */
  public enum Reason {
    /** The snapshot shows a positive balance and no block. */
    BALANCE_POSITIVE(true, false),
    /**
     * The credit store does not know the account, or no store is wired: nothing to judge, admitted.
     */
    NO_SNAPSHOT(true, false),
    /** The call has no account. */
    SKIPPED_NO_ACCOUNT(true, false),
    /** A trusted caller asked not to charge the call. */
    SKIPPED_SKIP_CHARGE(true, false),
    /** The guard has no cache wired and admits everything. */
    NOT_WIRED(true, false),
    /** The cache failed or exceeded its time budget; admitted because the guard fails open. */
    FAIL_OPEN_CACHE_ERROR(true, true),
    /** The credit store failed; admitted because the guard fails open. */
    FAIL_OPEN_STORE_ERROR(true, true),
    /** The credit store exceeded its fetch timeout; admitted because the guard fails open. */
    FAIL_OPEN_STORE_TIMEOUT(true, true),
    /** The account's blocked marker is set. */
    DENIED_BLOCKED_MARKER(false, false),
    /** The balance is zero or negative. */
    DENIED_NON_POSITIVE_BALANCE(false, false),
    /** The credit store says the account is blocked, whatever its balance. */
    DENIED_STORE_BLOCKED(false, false),
    /**
     * The snapshot's balance is positive but the account's pending debits (charges accepted and not
     * written yet) use it up. No blocked marker is set for it: a queued charge may still be
     * rejected.
     */
    DENIED_PENDING_DEBITS(false, false),
    /** Neither cache nor store could answer and the guard is configured to fail closed. */
    DENIED_UNAVAILABLE(false, true),
    /**
     * Neither cache nor store could answer, but this guard denied the account a moment ago (within
     * {@link CreditBalanceGuard.Builder#rememberDenials}): denied again rather than failed open.
     */
    DENIED_RECENT_DENIAL(false, true),
    /**
     * The credit store does not know the account. The guard itself admits such a call ({@link
     * #NO_SNAPSHOT}); a credit meter, which sells credit, denies it with this reason.
     */
    DENIED_UNKNOWN_ACCOUNT(false, false),
    /**
     * Strict credit: the call's worst-case cost does not fit in what the account has left (its
     * credit, less its pending debits and the holds of its calls in flight).
     */
    DENIED_INSUFFICIENT_CREDIT(false, false),
    /** Strict credit: no price rule prices the call, so nothing bounds what it may cost. */
    DENIED_UNPRICED(false, false);

    private final boolean admitted;
    private final boolean degraded;

    Reason(boolean admitted, boolean degraded) {
      this.admitted = admitted;
      this.degraded = degraded;
    }

    public boolean admitted() {
      return admitted;
    }

    /** Whether the decision was taken without an answer from the cache or the store. */
    public boolean degraded() {
      return degraded;
    }
  }

  private static final Map<Reason, Admission> BY_REASON = new EnumMap<>(Reason.class);

  static {
    for (Reason reason : Reason.values()) {
      BY_REASON.put(reason, new Admission(reason));
    }
  }

  private static final long UNKNOWN = Long.MIN_VALUE;

  private final Reason reason;
  private final CreditSnapshot snapshot;
  private final long availableCredit;

  private Admission(Reason reason) {
    this(reason, null, UNKNOWN);
  }

  private Admission(Reason reason, CreditSnapshot snapshot, long availableCredit) {
    this.reason = reason;
    this.snapshot = snapshot;
    this.availableCredit = availableCredit;
  }

  /** The shared admission for {@code reason}, with no credit figure. */
  public static Admission of(Reason reason) {
    return BY_REASON.get(Objects.requireNonNull(reason, "reason"));
  }

  /**
   * An admission for {@code reason} decided from {@code snapshot}, whose credit less the account's
   * pending debits was {@code availableCredit}.
   */
  public static Admission of(Reason reason, CreditSnapshot snapshot, long availableCredit) {
    return new Admission(
        Objects.requireNonNull(reason, "reason"),
        Objects.requireNonNull(snapshot, "snapshot"),
        availableCredit);
  }

  /** The snapshot the decision was taken from; empty for a decision taken without one. */
  public Optional<CreditSnapshot> snapshot() {
    return Optional.ofNullable(snapshot);
  }

  /**
   * The credit the account could still spend as the guard saw it (its snapshot less its pending
   * debits) when the decision was taken from a snapshot; empty for a decision taken without one (a
   * blocked marker, a skip, a failure).
   */
  public OptionalLong availableCredit() {
    return availableCredit == UNKNOWN ? OptionalLong.empty() : OptionalLong.of(availableCredit);
  }

  public Reason reason() {
    return reason;
  }

  public boolean isAdmitted() {
    return reason.admitted();
  }

  public boolean isDenied() {
    return !reason.admitted();
  }

  @Override
  public String toString() {
    return (isAdmitted() ? "Admitted[" : "Denied[") + reason + "]";
  }
}

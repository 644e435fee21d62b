package dev.creditgate.gateway.internal;

import dev.creditgate.Admission;
import dev.creditgate.internal.MinuteCounters;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * This process's LLM calls by minute over the last hour, for the admin overview: calls received,
 * their admissions (admitted, failed open, denied by reason), failed upstream attempts, and
 * charges. {@link GatewayMetrics} feeds it from the same events as its meters, so it counts what
 * {@code /metrics} counts. Each gateway process counts its own calls.
 */
final class CallMinutes {

  static final int REQUESTS = 0;
  static final int ADMITTED = 1;
  static final int FAILED_OPEN = 2;
  static final int UPSTREAM_ERRORS = 3;
  static final int CREDITS_CHARGED = 4;
  static final int CHARGES = 5;

  /** The counter of the first deny reason; the others follow in {@link #DENY_REASONS}' order. */
  private static final int FIRST_DENIED = 6;

  /** Calls refused by their key's or their account's concurrency limit, before any admission. */
  static final String CONCURRENCY_KEY = "concurrency_key";

  static final String CONCURRENCY_ACCOUNT = "concurrency_account";

  /**
   * Every reason a call may be denied for, as the overview names them: the admission's deny reasons
   * as {@code creditgate_calls_admissions_total} tags them ({@link GatewayMetrics#reasonTag}), then
   * the two concurrency limits.
   */
  static final List<String> DENY_REASONS;

  /** The counter of each admission reason, by its ordinal; -1 for the reasons that admit. */
  private static final int[] DENIED_BY_REASON = new int[Admission.Reason.values().length];

  static {
    List<String> reasons = new ArrayList<>();
    Arrays.fill(DENIED_BY_REASON, -1);
    for (Admission.Reason reason : Admission.Reason.values()) {
      if (!reason.admitted()) {
        DENIED_BY_REASON[reason.ordinal()] = FIRST_DENIED + reasons.size();
        reasons.add(GatewayMetrics.reasonTag(reason));
      }
    }
    reasons.add(CONCURRENCY_KEY);
    reasons.add(CONCURRENCY_ACCOUNT);
    DENY_REASONS = List.copyOf(reasons);
  }

  private static final int CONCURRENCY_KEY_COUNTER = FIRST_DENIED + DENY_REASONS.size() - 2;
  private static final int CONCURRENCY_ACCOUNT_COUNTER = FIRST_DENIED + DENY_REASONS.size() - 1;

  private final MinuteCounters ring;

  CallMinutes(InstantSource clock) {
    this.ring = new MinuteCounters(FIRST_DENIED + DENY_REASONS.size(), clock);
  }

  /** An LLM API call was received (whatever becomes of it). */
  void received() {
    ring.add(REQUESTS, 1);
  }

  /** A call was admitted or denied for {@code reason}. */
  void admission(Admission.Reason reason) {
    if (reason.admitted()) {
      ring.add(ADMITTED, 1);
      if (reason.degraded()) {
        ring.add(FAILED_OPEN, 1);
      }
    } else {
      ring.add(DENIED_BY_REASON[reason.ordinal()], 1);
    }
  }

  /** A call was refused by the concurrency limit of its {@code key} or its {@code account}. */
  void refusedForConcurrency(String scope) {
    ring.add("key".equals(scope) ? CONCURRENCY_KEY_COUNTER : CONCURRENCY_ACCOUNT_COUNTER, 1);
  }

  /** An attempt on an upstream failed: 429, 5xx, no connection, a timeout or a broken answer. */
  void upstreamError() {
    ring.add(UPSTREAM_ERRORS, 1);
  }

  /** A call was charged {@code credits} (zero or more). */
  void charged(long credits) {
    ring.add(CREDITS_CHARGED, credits);
    ring.add(CHARGES, 1);
  }

  /** Moves the current minute on with the clock ({@link MinuteCounters#roll}). */
  void roll() {
    ring.roll();
  }

  /** The clock the minutes are read from. */
  InstantSource clock() {
    return ring.clock();
  }

  /** The last hour's minutes, oldest first, the current partial minute last. */
  List<MinuteCounters.Minute> lastHour() {
    return ring.lastHour();
  }

  /** The calls denied for the {@code i}th of {@link #DENY_REASONS} in {@code minute}. */
  static long denied(MinuteCounters.Minute minute, int i) {
    return minute.count(FIRST_DENIED + i);
  }

  /**
   * The credits charged in {@code minute}, saturated at {@link Long#MAX_VALUE}: each charge is at
   * most that, so a sum past it (over 9.2e18 credits in one minute) shows as negative, once.
   */
  static long creditsCharged(MinuteCounters.Minute minute) {
    long credits = minute.count(CREDITS_CHARGED);
    return credits < 0 ? Long.MAX_VALUE : credits;
  }
}

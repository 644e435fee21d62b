package dev.creditgate.meter;

/**
 * What a strict meter does with a call whose worst-case cost does not fit in the account's credit.
 */
public enum ShortfallPolicy {
  /** Refuse the call, saying how many output tokens the credit affords. */
  REJECT,
  /**
   * Lower the call's output cap to what the credit affords, when that is at least the meter's
   * minimum; refuse it otherwise.
   */
  CLAMP
}

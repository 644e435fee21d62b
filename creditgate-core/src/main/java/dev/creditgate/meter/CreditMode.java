package dev.creditgate.meter;

/** How a credit meter admits a call. */
public enum CreditMode {
  /**
   * The call's worst-case cost is held at admission and must fit in what the account has left;
   * settling charges the actual cost and releases the rest. Spend never exceeds the credit, except
   * for input that exceeded its counted estimate (recorded as an overrun).
   */
  STRICT,
  /**
   * The account is admitted while its balance is positive, and the call is charged afterwards:
   * concurrent calls can spend past the balance.
   */
  CHECK
}

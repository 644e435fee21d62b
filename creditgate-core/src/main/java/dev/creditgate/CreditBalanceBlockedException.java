package dev.creditgate;

import java.util.Objects;

/**
 * The account may not spend: blocked, or its balance is not positive. The gateway answers HTTP 402.
 * The message is always {@value #MESSAGE}; {@link #admission()} says why.
 */
public class CreditBalanceBlockedException extends CreditgateException {

  public static final String MESSAGE = "credit balance is insufficient";

  private static final long serialVersionUID = 1L;

  private final transient Admission admission;

  public CreditBalanceBlockedException(Admission admission) {
    super(MESSAGE);
    this.admission = Objects.requireNonNull(admission, "admission");
  }

  /** The denial that caused this exception. */
  public Admission admission() {
    return admission;
  }
}

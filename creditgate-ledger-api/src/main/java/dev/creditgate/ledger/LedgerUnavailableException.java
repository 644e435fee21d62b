package dev.creditgate.ledger;

import dev.creditgate.CreditgateException;

/** The ledger's database could not be reached or did not answer in time. */
public class LedgerUnavailableException extends CreditgateException {

  private static final long serialVersionUID = 1L;

  public LedgerUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}

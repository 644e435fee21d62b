package dev.creditgate.ledger;

import dev.creditgate.CreditgateException;

/** The account does not exist. The admin API answers HTTP 404. */
public class AccountNotFoundException extends CreditgateException {

  private static final long serialVersionUID = 1L;

  public AccountNotFoundException(String accountId) {
    super("account '" + accountId + "' does not exist");
  }
}

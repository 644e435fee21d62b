package dev.creditgate;

/** Base of the few exceptions Creditgate throws; unchecked, named for what the caller can do. */
public class CreditgateException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public CreditgateException(String message) {
    super(message);
  }

  public CreditgateException(String message, Throwable cause) {
    super(message, cause);
  }
}

package dev.creditgate;

/**
 * A dependency the call needs (an upstream, the ledger) is not initialized. The gateway answers
 * HTTP 503 {@code runtime_not_ready}.
 */
public class RuntimeServiceNotReadyException extends CreditgateException {

  public static final String MESSAGE = "llm runtime service dependency not initialized";

  private static final long serialVersionUID = 1L;

  public RuntimeServiceNotReadyException(String detail) {
    super(detail == null || detail.isBlank() ? MESSAGE : MESSAGE + ": " + detail);
  }
}

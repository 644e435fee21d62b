package dev.creditgate.sim;

/**
 * Thrown to drop the connection mid-response, the way a crashing upstream would: escaping the
 * handler makes the JDK server close the socket without the rest of the body.
 */
final class AbortResponse extends RuntimeException {
  private static final long serialVersionUID = 1L;

  AbortResponse(String message) {
    super(message, null, false, false);
  }
}

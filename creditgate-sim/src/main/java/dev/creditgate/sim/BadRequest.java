package dev.creditgate.sim;

/** A 400 with the parameter and code to name in the error. */
final class BadRequest extends Exception {
  private static final long serialVersionUID = 1L;

  final String param;
  final String code;

  BadRequest(String message, String param, String code) {
    super(message, null, false, false);
    this.param = param;
    this.code = code;
  }
}

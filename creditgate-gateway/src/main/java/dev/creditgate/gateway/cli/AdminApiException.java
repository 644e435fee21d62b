package dev.creditgate.gateway.cli;

/** The gateway's admin API answered with an error: its status, code and message. */
final class AdminApiException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final int status;
  private final String code;

  AdminApiException(int status, String code, String message) {
    super(describe(status, code, message));
    this.status = status;
    this.code = code;
  }

  /** The HTTP status. */
  int status() {
    return status;
  }

  /** The API's error code ({@code hold_not_found}, {@code invalid_admin_token}, ...), or "". */
  String code() {
    return code;
  }

  private static String describe(int status, String code, String message) {
    String what =
        switch (status) {
          case 401 -> "the gateway refused the admin token";
          case 403 -> "the gateway's admin API refused the call";
          case 404 -> "not found";
          default -> "the gateway answered " + status;
        };
    return what
        + " ("
        + status
        + (code.isEmpty() ? "" : " " + code)
        + ")"
        + (message.isEmpty() ? "" : ": " + message);
  }
}

package dev.creditgate.gateway.cli;

/** A running gateway did not answer: nothing listens at its URL, or it did not answer in time. */
final class GatewayUnreachableException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final String url;

  /**
   * @param why what went wrong, such as "connection refused" or "no answer within 300 ms"
   */
  GatewayUnreachableException(String url, String why, Throwable cause) {
    super(
        "cannot reach the gateway at " + url + ": " + why + "; is it running? (--gateway-url)",
        cause);
    this.url = url;
  }

  /** The URL that was called. */
  String url() {
    return url;
  }
}

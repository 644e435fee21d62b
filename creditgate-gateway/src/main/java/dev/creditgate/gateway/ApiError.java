package dev.creditgate.gateway;

import java.util.Objects;

/**
 * An HTTP error the gateway answers with, in the OpenAI error shape {@code
 * {"error":{"message":..,"type":..,"code":..,"param":..}}}. Thrown by handlers and turned into a
 * response in one place; the message is written for the caller and never holds a stack trace, a key
 * or an upstream secret.
 */
public final class ApiError extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final int status;
  private final String type;
  private final String code;
  private final String param;
  private final long retryAfterSeconds;

  public ApiError(int status, String type, String code, String message) {
    this(status, type, code, message, null);
  }

  public ApiError(int status, String type, String code, String message, String param) {
    this(status, type, code, message, param, 0);
  }

  private ApiError(
      int status, String type, String code, String message, String param, long retryAfterSeconds) {
    super(Objects.requireNonNull(message, "message"), null, false, false);
    this.status = status;
    this.type = Objects.requireNonNull(type, "type");
    this.code = code;
    this.param = param;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /**
   * This error, answered with a {@code Retry-After: seconds} header.
   *
   * @throws IllegalArgumentException when {@code seconds} is not positive
   */
  public ApiError withRetryAfter(long seconds) {
    if (seconds <= 0) {
      throw new IllegalArgumentException("Retry-After must be positive, but was " + seconds);
    }
    return new ApiError(status, type, code, getMessage(), param, seconds);
  }

  public static ApiError invalidRequest(String message, String param) {
    return new ApiError(400, "invalid_request_error", "invalid_request", message, param);
  }

  public static ApiError validation(String message, String param) {
    return new ApiError(422, "invalid_request_error", "validation_failed", message, param);
  }

  public int status() {
    return status;
  }

  public String type() {
    return type;
  }

  public String code() {
    return code;
  }

  public String param() {
    return param;
  }

  /** Seconds for the answer's {@code Retry-After} header; 0 for none. */
  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }
}

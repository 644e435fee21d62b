package dev.creditgate.redis;

import dev.creditgate.CreditgateException;

/**
 * A {@link RedisCreditCache} call did not succeed: Redis failed, answered too late, or the circuit
 * breaker refused the call while Redis is considered down. The guard treats it like any cache
 * failure and fails open (or closed, if configured). Lettuce's own exceptions are the cause, never
 * thrown directly.
 */
public class RedisCacheException extends CreditgateException {

  private static final long serialVersionUID = 1L;

  public RedisCacheException(String message) {
    super(message);
  }

  public RedisCacheException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * Without a stack trace: the open breaker fails every call, and a trace per call would cost more
   * than the call.
   */
  static RedisCacheException withoutStackTrace(String message) {
    return new RedisCacheException(message) {
      private static final long serialVersionUID = 1L;

      @Override
      public synchronized Throwable fillInStackTrace() {
        return this;
      }
    };
  }
}

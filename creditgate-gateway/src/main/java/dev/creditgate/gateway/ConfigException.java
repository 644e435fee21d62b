package dev.creditgate.gateway;

/**
 * The configuration is invalid; the message names the bad key and value. The server does not start.
 */
public final class ConfigException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}

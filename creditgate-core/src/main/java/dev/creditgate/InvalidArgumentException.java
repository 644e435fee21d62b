package dev.creditgate;

import java.util.Objects;

/**
 * An argument is not valid. {@link #parameter()} names it, so a caller can point at the bad field
 * (an HTTP API answers with it as {@code param}) without reading the message, which is for people.
 */
public class InvalidArgumentException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  private final String parameter;

  /**
   * @param parameter the name of the invalid argument, as the callee calls it
   * @param message what is wrong, naming the value
   */
  public InvalidArgumentException(String parameter, String message) {
    super(message);
    this.parameter = Objects.requireNonNull(parameter, "parameter");
  }

  /** The name of the invalid argument. */
  public String parameter() {
    return parameter;
  }
}

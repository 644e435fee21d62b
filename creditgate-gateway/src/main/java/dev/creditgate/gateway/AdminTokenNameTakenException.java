package dev.creditgate.gateway;

/** A token that is not revoked already has the name a new admin token was to get. */
public final class AdminTokenNameTakenException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final String name;

  public AdminTokenNameTakenException(String name) {
    super("an admin token named '" + name + "' exists; revoke it first or choose another name");
    this.name = name;
  }

  /** The name asked for. */
  public String name() {
    return name;
  }
}

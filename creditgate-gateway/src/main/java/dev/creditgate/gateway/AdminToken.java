package dev.creditgate.gateway;

import dev.creditgate.InvalidArgumentException;
import java.time.Instant;
import java.util.Locale;

/**
 * A named admin token as stored: never the secret, only its hash and a short prefix to recognise it
 * by. Its name is the actor recorded for what it does.
 *
 * @param revokedAt when it was revoked, or null while it is valid
 */
public record AdminToken(
    String id, String prefix, String name, Role role, Instant createdAt, Instant revokedAt) {

  /** What a token may do on the admin API, each role all that the ones before it may. */
  public enum Role {
    /** Reads only: {@code GET}. */
    VIEWER,
    /** Everything, creating and revoking admin tokens included. */
    OPERATOR;

    /** The role as the API and the CLI spell it: {@code viewer}, {@code operator}. */
    public String apiName() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Whether this role may do all that {@code other} may. */
    public boolean includes(Role other) {
      return compareTo(other) >= 0;
    }

    /**
     * The role named {@code name}, case-insensitively.
     *
     * @throws InvalidArgumentException naming {@code role} when there is no such role
     */
    public static Role of(String name) {
      for (Role r : values()) {
        if (r.apiName().equals(name == null ? "" : name.trim().toLowerCase(Locale.ROOT))) {
          return r;
        }
      }
      throw new InvalidArgumentException(
          "role",
          "role must be 'viewer' or 'operator', but was '"
              + dev.creditgate.Checks.abbreviate(String.valueOf(name), 40)
              + "'");
    }
  }

  public boolean revoked() {
    return revokedAt != null;
  }
}

package dev.creditgate.gateway.internal;

import dev.creditgate.gateway.AdminToken;

/**
 * Who sent an admin request: {@code name} is recorded as the actor of what it changes, {@code role}
 * says what it may do. The bootstrap token ({@code admin.token}) is {@link #BOOTSTRAP}.
 */
public record AdminPrincipal(String name, AdminToken.Role role) {

  /** The principal of the bootstrap token. */
  public static final AdminPrincipal BOOTSTRAP =
      new AdminPrincipal("admin", AdminToken.Role.OPERATOR);
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.gateway.AdminToken;
import dev.creditgate.gateway.AdminTokenStore;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.GatewayLimits;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns an admin request's credentials into its {@link AdminPrincipal}, or a 401/403/429: the one
 * place that knows how an admin authenticates. Today that is a bearer token, either the bootstrap
 * token ({@code admin.token}, the principal {@code admin}, an operator), compared in constant time,
 * or a named token of {@link AdminTokenStore}, looked up by its hash; or, without an {@code
 * Authorization} header, a console session's cookie ({@link ConsoleSessions}), whose token is
 * checked the same way on every request (so revoking a named token ends its sessions).
 *
 * <p>{@link #authorize} also refuses a viewer's state-changing request (any method but {@code GET},
 * {@code HEAD} and {@code OPTIONS}) with 403 {@code insufficient_role} before its handler runs, and
 * leaves the principal on the request for the handlers ({@link #principal}). A named token costs a
 * database read, so such a read is let through only while the client address has
 * failed-authentication tokens left ({@link FailedAuthLimiter}), and an unknown token takes one.
 */
public final class AdminAuth {

  /** Who did what on the admin API, one line each at INFO, for changes without a ledger entry. */
  private static final Logger AUDIT = LoggerFactory.getLogger("dev.creditgate.gateway.admin");

  private static final String PRINCIPAL = AdminAuth.class.getName() + ".principal";
  private static final Set<String> READS = Set.of("GET", "HEAD", "OPTIONS");

  private final byte[] bootstrap;
  private final AdminTokenStore tokens;
  private final FailedAuthLimiter failures;
  private final ClientAddresses addresses;

  /** The console's sessions; null when the admin API is off. */
  private final ConsoleSessions sessions;

  /**
   * @param bootstrapToken {@code admin.token}; empty turns the admin API off (403 {@code
   *     admin_disabled}), named tokens too
   */
  public AdminAuth(
      String bootstrapToken, AdminTokenStore tokens, GatewayLimits limits, Ticker ticker) {
    this.bootstrap = bootstrapToken.getBytes(StandardCharsets.UTF_8);
    this.tokens = Objects.requireNonNull(tokens, "tokens");
    this.failures =
        new FailedAuthLimiter(limits.authFailuresPerAddress(), limits.authFailureWindow(), ticker);
    this.addresses = new ClientAddresses(limits.clientAddressHeader());
    this.sessions =
        bootstrap.length == 0
            ? null
            : new ConsoleSessions(
                ConsoleSessions.DEFAULT_TTL, ConsoleSessions.DEFAULT_MAX_SESSIONS, ticker);
  }

  /** The console's sessions; empty when the admin API, and with it the console, is off. */
  Optional<ConsoleSessions> sessions() {
    return Optional.ofNullable(sessions);
  }

  /**
   * Who {@code presented} belongs to, if it is the bootstrap token or a valid named token; the
   * caller limits failed attempts.
   */
  Optional<AdminPrincipal> principalOf(String presented) {
    if (bootstrap.length == 0) {
      return Optional.empty();
    }
    if (MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8), bootstrap)) {
      return Optional.of(AdminPrincipal.BOOTSTRAP);
    }
    return AdminTokenStore.wellFormed(presented)
        ? tokens.authenticate(presented).map(t -> new AdminPrincipal(t.name(), t.role()))
        : Optional.empty();
  }

  /**
   * The request's principal, when its role allows the request's method; kept on the request for
   * {@link #principal}.
   */
  AdminPrincipal authorize(Context ctx) {
    AdminPrincipal principal = authenticate(ctx);
    if (!READS.contains(ctx.req().getMethod())
        && !principal.role().includes(AdminToken.Role.OPERATOR)) {
      throw new ApiError(
          403,
          "permission_error",
          "insufficient_role",
          "the admin token '"
              + principal.name()
              + "' is a "
              + principal.role().apiName()
              + " token: it may only read; this needs an operator token");
    }
    ctx.attribute(PRINCIPAL, principal);
    return principal;
  }

  /** Who sent the request, whatever it asks for. */
  private AdminPrincipal authenticate(Context ctx) {
    if (bootstrap.length == 0) {
      throw new ApiError(
          403,
          "permission_error",
          "admin_disabled",
          "the admin API is disabled: no admin token is set");
    }
    String h = ctx.header("Authorization");
    Optional<String> session =
        h == null && sessions != null ? sessions.credential(ctx) : Optional.empty();
    if (session.isEmpty() && (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7))) {
      throw new ApiError(
          401,
          "invalid_request_error",
          "missing_admin_token",
          "send the admin token as 'Authorization: Bearer <token>'");
    }
    String presented = session.orElseGet(() -> h.substring(7).trim());
    if (MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8), bootstrap)) {
      return AdminPrincipal.BOOTSTRAP;
    }
    if (AdminTokenStore.wellFormed(presented)) {
      Optional<AdminToken> named = named(ctx, presented);
      if (named.isPresent()) {
        return new AdminPrincipal(named.get().name(), named.get().role());
      }
    }
    throw new ApiError(
        401, "invalid_request_error", "invalid_admin_token", "the admin token is not valid");
  }

  /** The valid named token {@code secret}, under its client address's failure limit. */
  private Optional<AdminToken> named(Context ctx, String secret) {
    String address = addresses.of(ctx);
    long waitSeconds = failures.waitSeconds(address);
    if (waitSeconds > 0) {
      throw new ApiError(
              429,
              "rate_limit_error",
              "too_many_authentication_failures",
              "too many requests with an invalid admin token from this address; retry in "
                  + waitSeconds
                  + " s")
          .withRetryAfter(waitSeconds);
    }
    Optional<AdminToken> found = Optional.empty();
    try {
      found = tokens.authenticate(secret);
    } finally {
      // A read that failed counts too: while the table is away each attempt waits for a connection.
      if (found.isEmpty()) {
        failures.failed(address);
      }
    }
    return found;
  }

  /** The principal {@link #authorize} left on the request. */
  static AdminPrincipal principal(Context ctx) {
    AdminPrincipal principal = ctx.attribute(PRINCIPAL);
    if (principal == null) {
      throw new IllegalStateException("an admin handler ran without authorization");
    }
    return principal;
  }

  /**
   * The actor to record for a change the request makes: its principal's name. A body's {@code
   * actor} field, once trusted as given, is accepted only when it names the principal, so a client
   * that sent one learns of the change instead of having it ignored.
   *
   * @throws ApiError 422 naming {@code actor} when the body names someone else
   */
  static String actor(Context ctx, ObjectNode body) {
    String name = principal(ctx).name();
    String given = JsonFields.optionalString(body, "actor", null);
    if (given != null && !given.equals(name)) {
      throw ApiError.validation(
          "actor is the admin token's name, '"
              + name
              + "', and may be left out, but was '"
              + Authenticator.abbreviate(given)
              + "'",
          "actor");
    }
    return name;
  }

  /** Logs, at INFO, that the request's principal did {@code action}. */
  static void audit(Context ctx, String action) {
    AdminPrincipal principal = principal(ctx);
    AUDIT.info("admin {} ({}) {}", principal.name(), principal.role().apiName(), action);
  }
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.AdminToken;
import dev.creditgate.gateway.AdminTokenStore;
import dev.creditgate.gateway.ApiError;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.function.UnaryOperator;

/**
 * The admin API's named admin tokens: list (never a secret), create (the secret shown once) and
 * revoke. Only an operator reaches create and revoke ({@link AdminAuth} refuses a viewer's change),
 * and no token may create one of a role above its own. Each change is logged with the admin who
 * made it.
 */
final class AdminTokens {

  private final AdminTokenStore tokens;
  private final AdminRequests requests;

  AdminTokens(AdminTokenStore tokens, AdminRequests requests) {
    this.tokens = tokens;
    this.requests = requests;
  }

  /** Registers the routes, each wrapped by {@code guarded} (authorization and errors). */
  void register(RoutesConfig routes, String prefix, UnaryOperator<Handler> guarded) {
    routes.get(prefix + "/admin-tokens", guarded.apply(this::list));
    routes.post(prefix + "/admin-tokens", guarded.apply(this::create));
    routes.delete(prefix + "/admin-tokens/{id}", guarded.apply(this::revoke));
    routes.post(prefix + "/admin-tokens/{id}/revoke", guarded.apply(this::revoke));
  }

  private void list(Context ctx) {
    AdminRequests.json(ctx, 200, AdminRequests.list(tokens.list(), AdminTokens::token));
  }

  private void create(Context ctx) {
    ObjectNode body = requests.body(ctx);
    String name = AdminTokenStore.requireName(JsonFields.requiredString(body, "name"));
    AdminToken.Role role = AdminToken.Role.of(JsonFields.requiredString(body, "role"));
    AdminPrincipal principal = AdminAuth.principal(ctx);
    if (!principal.role().includes(role)) {
      throw new ApiError(
          403,
          "permission_error",
          "insufficient_role",
          "a " + principal.role().apiName() + " token cannot create a " + role.apiName() + " token",
          "role");
    }
    AdminTokenStore.CreatedToken created = tokens.create(name, role);
    AdminAuth.audit(
        ctx,
        "created admin token " + created.token().id() + " (" + name + ", " + role.apiName() + ")");
    ObjectNode out = token(created.token());
    out.put("token", created.secret());
    AdminRequests.json(ctx, 201, out);
  }

  private void revoke(Context ctx) {
    String id = ctx.pathParam("id");
    AdminToken revoked =
        tokens
            .revoke(id)
            .orElseThrow(
                () ->
                    new ApiError(
                        404,
                        "invalid_request_error",
                        "admin_token_not_found",
                        "no admin token with id '" + Authenticator.abbreviate(id) + "'"));
    AdminAuth.audit(ctx, "revoked admin token " + revoked.id() + " (" + revoked.name() + ")");
    AdminRequests.json(ctx, 200, token(revoked));
  }

  static ObjectNode token(AdminToken t) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("object", "admin_token");
    o.put("id", t.id());
    o.put("name", t.name());
    o.put("role", t.role().apiName());
    o.put("prefix", t.prefix());
    o.put("created_at", t.createdAt().toString());
    AdminRequests.putInstant(o, "revoked_at", t.revokedAt());
    return o;
  }
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.ApiKeyStore;
import dev.creditgate.ledger.CreditLedger;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * The admin API's API keys: list (never a secret), create (the secret shown once) and revoke.
 * Creating and revoking are logged with the admin who did it.
 */
final class AdminKeys {

  private final CreditLedger ledger;
  private final ApiKeyStore keys;
  private final AdminRequests requests;

  AdminKeys(CreditLedger ledger, ApiKeyStore keys, AdminRequests requests) {
    this.ledger = ledger;
    this.keys = keys;
    this.requests = requests;
  }

  /** Registers the routes, each wrapped by {@code guarded} (authorization and errors). */
  void register(RoutesConfig routes, String prefix, UnaryOperator<Handler> guarded) {
    routes.get(prefix + "/keys", guarded.apply(this::list));
    routes.post(prefix + "/keys", guarded.apply(this::create));
    routes.delete(prefix + "/keys/{id}", guarded.apply(this::revoke));
    routes.post(prefix + "/keys/{id}/revoke", guarded.apply(this::revoke));
  }

  private void list(Context ctx) {
    String account = ctx.queryParam("account_id");
    if (account != null) {
      AdminRequests.accountId(account, "account_id");
    }
    AdminRequests.json(ctx, 200, AdminRequests.list(keys.list(account), AdminKeys::key));
  }

  private void create(Context ctx) {
    ObjectNode body = requests.body(ctx);
    String kindText = JsonFields.optionalString(body, "kind", "user").toUpperCase(Locale.ROOT);
    ApiKey.Kind kind;
    try {
      kind = ApiKey.Kind.valueOf(kindText);
    } catch (IllegalArgumentException e) {
      throw ApiError.validation(
          "kind must be 'user' or 'service', but was '" + kindText.toLowerCase(Locale.ROOT) + "'",
          "kind");
    }
    String account = JsonFields.optionalString(body, "account_id", "");
    if (kind == ApiKey.Kind.USER) {
      if (account.isEmpty()) {
        throw ApiError.validation("account_id is required for a user key", "account_id");
      }
      AdminRequests.accountId(account, "account_id");
      ledger.openAccount(account);
    } else if (!account.isEmpty()) {
      throw ApiError.validation(
          "a service key names its account per request; account_id must be empty", "account_id");
    }
    ApiKeyStore.CreatedKey created =
        keys.create(kind, account, JsonFields.optionalString(body, "label", ""));
    AdminAuth.audit(
        ctx,
        "created API key "
            + created.key().id()
            + " ("
            + kind.name().toLowerCase(Locale.ROOT)
            + (account.isEmpty() ? "" : ", account " + account)
            + ")");
    ObjectNode out = key(created.key());
    out.put("key", created.secret());
    AdminRequests.json(ctx, 201, out);
  }

  private void revoke(Context ctx) {
    String id = ctx.pathParam("id");
    ApiKey k =
        keys.revoke(id)
            .orElseThrow(
                () ->
                    new ApiError(
                        404,
                        "invalid_request_error",
                        "key_not_found",
                        "no API key with id '" + Authenticator.abbreviate(id) + "'"));
    AdminAuth.audit(ctx, "revoked API key " + k.id());
    AdminRequests.json(ctx, 200, key(k));
  }

  static ObjectNode key(ApiKey k) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("object", "api_key");
    o.put("id", k.id());
    o.put("prefix", k.prefix());
    o.put("kind", k.kind().name().toLowerCase(Locale.ROOT));
    o.put("account_id", k.accountId());
    o.put("label", k.label());
    o.put("created_at", k.createdAt().toString());
    AdminRequests.putInstant(o, "revoked_at", k.revokedAt());
    return o;
  }
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.BillingContext;
import dev.creditgate.InvalidArgumentException;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.ApiKeyStore;
import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.AccountNotFoundException;
import dev.creditgate.ledger.CreditLedger;
import dev.creditgate.ledger.CreditPolicies;
import dev.creditgate.ledger.IdempotencyConflictException;
import dev.creditgate.ledger.LedgerChecks;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.LedgerUnavailableException;
import dev.creditgate.ledger.Page;
import dev.creditgate.ledger.PriceBook;
import dev.creditgate.ledger.SpendSeries;
import dev.creditgate.pricing.PriceRule;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;

/**
 * The operator API under {@code /admin/v1}, behind the admin token: accounts, grants, blocks,
 * entries, spend series, API keys and price rules. Bad input is 400 (not JSON) or 422 (a field is
 * wrong, named in {@code param}); a reused idempotency key with another payload is 409. Its OpenAPI
 * document and Swagger UI ({@link AdminDocs}) are registered with it.
 */
public final class AdminApi {

  public static final String PREFIX = "/admin/v1";

  /** Under {@link #PREFIX}; served only when the ledger keeps accounts' credit policies. */
  static final String CREDIT_POLICY = "/accounts/{id}/credit-policy";

  static final int DEFAULT_PAGE = 50;
  static final int MAX_PAGE = 500;

  private final CreditLedger ledger;
  private final LedgerCreditMeter meter;
  private final AdminHolds holds;
  private final AdminCreditPolicies policies;
  private final AdminSpend spend;
  private final AdminDocs docs;
  private final PriceBook prices;
  private final ApiKeyStore keys;
  private final byte[] token;
  private final long maxBodyBytes;
  private final GatewayMetrics metrics;

  public AdminApi(
      CreditLedger ledger,
      PriceBook prices,
      ApiKeyStore keys,
      String adminToken,
      long maxBodyBytes,
      GatewayMetrics metrics,
      LedgerCreditMeter meter,
      Clock clock) {
    this.ledger = ledger;
    this.meter = meter;
    this.holds = new AdminHolds(meter);
    this.policies =
        ledger instanceof CreditPolicies p ? new AdminCreditPolicies(ledger, p, meter) : null;
    this.spend = ledger instanceof SpendSeries s ? new AdminSpend(ledger, s, clock) : null;
    Set<String> unserved = new HashSet<>();
    if (policies == null) {
      unserved.add(CREDIT_POLICY);
    }
    if (spend == null) {
      unserved.addAll(Set.of(AdminSpend.SPEND, AdminSpend.ACCOUNT_SPEND));
    }
    this.docs = new AdminDocs(unserved);
    this.prices = prices;
    this.keys = keys;
    this.token = adminToken.getBytes(StandardCharsets.UTF_8);
    this.maxBodyBytes = maxBodyBytes;
    this.metrics = metrics;
  }

  public void register(RoutesConfig routes) {
    docs.register(routes);
    holds.register(routes, PREFIX, this::guarded);
    routes.get(PREFIX + "/accounts", guarded(this::listAccounts));
    routes.post(PREFIX + "/accounts", guarded(this::openAccount));
    routes.get(PREFIX + "/accounts/{id}", guarded(this::getAccount));
    routes.post(PREFIX + "/accounts/{id}/grants", guarded(this::grant));
    routes.post(PREFIX + "/accounts/{id}/block", guarded(ctx -> blockOrUnblock(ctx, true)));
    routes.post(PREFIX + "/accounts/{id}/unblock", guarded(ctx -> blockOrUnblock(ctx, false)));
    routes.get(PREFIX + "/accounts/{id}/entries", guarded(this::entries));
    if (policies != null) {
      String policy = PREFIX + CREDIT_POLICY;
      routes.get(policy, guarded(ctx -> policies.get(ctx, accountId(ctx.pathParam("id"), "id"))));
      routes.put(
          policy,
          guarded(ctx -> policies.put(ctx, accountId(ctx.pathParam("id"), "id"), body(ctx, true))));
      routes.delete(
          policy, guarded(ctx -> policies.delete(ctx, accountId(ctx.pathParam("id"), "id"))));
    }
    if (spend != null) {
      spend.register(routes, PREFIX, this::guarded);
    }
    routes.get(PREFIX + "/keys", guarded(this::listKeys));
    routes.post(PREFIX + "/keys", guarded(this::createKey));
    routes.delete(PREFIX + "/keys/{id}", guarded(this::revokeKey));
    routes.post(PREFIX + "/keys/{id}/revoke", guarded(this::revokeKey));
    routes.get(PREFIX + "/price-rules", guarded(this::listRules));
    routes.post(PREFIX + "/price-rules", guarded(this::createRule));
    routes.put(PREFIX + "/price-rules/{id}", guarded(this::updateRule));
    routes.delete(PREFIX + "/price-rules/{id}", guarded(this::deactivateRule));
  }

  Handler guarded(Handler inner) {
    return ctx -> {
      int status = 500;
      try {
        authorize(ctx);
        inner.handle(ctx);
        status = ctx.statusCode();
      } catch (ApiError e) {
        status = e.status();
        LlmCalls.respondError(ctx, e);
      } catch (IdempotencyConflictException e) {
        status = 409;
        LlmCalls.respondError(
            ctx,
            new ApiError(
                409,
                "invalid_request_error",
                "idempotency_conflict",
                e.getMessage(),
                "Idempotency-Key"));
      } catch (AccountNotFoundException e) {
        status = 404;
        LlmCalls.respondError(
            ctx, new ApiError(404, "invalid_request_error", "account_not_found", e.getMessage()));
      } catch (IllegalArgumentException | ArithmeticException e) {
        status = 422;
        LlmCalls.respondError(ctx, ApiError.validation(e.getMessage(), parameter(e)));
      } catch (LedgerUnavailableException e) {
        status = 503;
        LlmCalls.respondError(
            ctx,
            new ApiError(
                503, "server_error", "ledger_unavailable", "the ledger is unavailable; try again"));
      } finally {
        metrics.request("admin", "none", status);
      }
    };
  }

  private void authorize(Context ctx) {
    if (token.length == 0) {
      throw new ApiError(
          403,
          "permission_error",
          "admin_disabled",
          "the admin API is disabled: no admin token is set");
    }
    String h = ctx.header("Authorization");
    if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw new ApiError(
          401,
          "invalid_request_error",
          "missing_admin_token",
          "send the admin token as 'Authorization: Bearer <token>'");
    }
    byte[] presented = h.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    if (!MessageDigest.isEqual(presented, token)) {
      throw new ApiError(
          401, "invalid_request_error", "invalid_admin_token", "the admin token is not valid");
    }
  }

  private void listAccounts(Context ctx) {
    Page<Account> page = ledger.accounts(cursor(ctx), limit(ctx));
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    page.items().forEach(a -> data.add(account(a)));
    root.put("next_cursor", page.nextCursor());
    json(ctx, 200, root);
  }

  private void openAccount(Context ctx) {
    ObjectNode body = body(ctx);
    String id = JsonFields.requiredString(body, "id");
    accountId(id, "id");
    json(ctx, 201, account(ledger.openAccount(id)));
  }

  private void getAccount(Context ctx) {
    String id = accountId(ctx.pathParam("id"), "id");
    Account a = ledger.account(id).orElseThrow(() -> new AccountNotFoundException(id));
    ObjectNode body = account(a);
    // Holds live in the gateway process that admitted their calls: this one's.
    long held = meter.heldCredits(id);
    body.put("held", held);
    body.put("available", a.balance() - held);
    AdminCreditPolicies.put(body.putObject("credit_policy"), meter.effectivePolicy(id));
    json(ctx, 200, body);
  }

  private void grant(Context ctx) {
    String id = accountId(ctx.pathParam("id"), "id");
    String eventId = ctx.header("Idempotency-Key");
    if (eventId == null || eventId.isBlank()) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "missing_idempotency_key",
          "a grant needs an Idempotency-Key header so a retry cannot grant twice",
          "Idempotency-Key");
    }
    eventId(eventId.trim());
    ObjectNode body = body(ctx);
    long amount = JsonFields.requiredLong(body, "amount");
    LedgerChecks.requirePositiveAmount("amount", amount);
    String reason = JsonFields.optionalString(body, "reason", "");
    String actor = JsonFields.optionalString(body, "actor", "admin");
    LedgerEntry e = ledger.grant(id, amount, eventId.trim(), actor, reason);
    json(ctx, 201, entry(e));
  }

  private void blockOrUnblock(Context ctx, boolean block) {
    String id = accountId(ctx.pathParam("id"), "id");
    ObjectNode body = body(ctx, true);
    String given = ctx.header("Idempotency-Key");
    String eventId =
        given == null || given.isBlank()
            ? (block ? "block_" : "unblock_") + UUID.randomUUID()
            : eventId(given.trim());
    String reason = JsonFields.optionalString(body, "reason", "");
    String actor = JsonFields.optionalString(body, "actor", "admin");
    if (ledger.account(id).isEmpty()) {
      throw new AccountNotFoundException(id);
    }
    LedgerEntry e =
        block
            ? ledger.block(id, eventId, actor, reason)
            : ledger.unblock(id, eventId, actor, reason);
    json(ctx, 200, entry(e));
  }

  private void entries(Context ctx) {
    String id = accountId(ctx.pathParam("id"), "id");
    if (ledger.account(id).isEmpty()) {
      throw new AccountNotFoundException(id);
    }
    Page<LedgerEntry> page = ledger.entries(id, cursor(ctx), limit(ctx));
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    page.items().forEach(e -> data.add(entry(e)));
    root.put("next_cursor", page.nextCursor());
    json(ctx, 200, root);
  }

  private void listKeys(Context ctx) {
    String account = ctx.queryParam("account_id");
    if (account != null) {
      accountId(account, "account_id");
    }
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    keys.list(account).forEach(k -> data.add(key(k)));
    json(ctx, 200, root);
  }

  private void createKey(Context ctx) {
    ObjectNode body = body(ctx);
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
      accountId(account, "account_id");
      ledger.openAccount(account);
    } else if (!account.isEmpty()) {
      throw ApiError.validation(
          "a service key names its account per request; account_id must be empty", "account_id");
    }
    ApiKeyStore.CreatedKey created =
        keys.create(kind, account, JsonFields.optionalString(body, "label", ""));
    ObjectNode out = key(created.key());
    out.put("key", created.secret());
    json(ctx, 201, out);
  }

  private void revokeKey(Context ctx) {
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
    json(ctx, 200, key(k));
  }

  private void listRules(Context ctx) {
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    prices.priceRules().forEach(r -> data.add(rule(r)));
    json(ctx, 200, root);
  }

  private void createRule(Context ctx) {
    PriceRule rule = readRule(body(ctx), 0);
    json(ctx, 201, rule(prices.createPriceRule(rule)));
  }

  private void updateRule(Context ctx) {
    long id = ruleId(ctx);
    findRule(id);
    PriceRule rule = readRule(body(ctx), id);
    json(ctx, 200, rule(prices.updatePriceRule(rule)));
  }

  private void deactivateRule(Context ctx) {
    long id = ruleId(ctx);
    PriceRule existing = findRule(id);
    json(ctx, 200, rule(prices.updatePriceRule(existing.withActive(false))));
  }

  private PriceRule findRule(long id) {
    return prices.priceRules().stream()
        .filter(r -> r.id() == id)
        .findFirst()
        .orElseThrow(
            () ->
                new ApiError(
                    404,
                    "invalid_request_error",
                    "price_rule_not_found",
                    "no price rule with id " + id));
  }

  private static long ruleId(Context ctx) {
    try {
      long id = Long.parseLong(ctx.pathParam("id"));
      if (id <= 0) {
        throw new NumberFormatException();
      }
      return id;
    } catch (NumberFormatException e) {
      throw ApiError.validation(
          "price rule id must be a positive integer, but was '"
              + Authenticator.abbreviate(ctx.pathParam("id"))
              + "'",
          "id");
    }
  }

  private static PriceRule readRule(ObjectNode b, long id) {
    return new PriceRule(
        id,
        JsonFields.optionalString(b, "scene", ""),
        JsonFields.optionalString(b, "provider", ""),
        JsonFields.optionalString(b, "model", ""),
        JsonFields.requiredLong(b, "input_price"),
        JsonFields.requiredLong(b, "output_price"),
        JsonFields.optionalLong(b, "cached_price", 0),
        JsonFields.optionalLong(b, "reasoning_price", 0),
        JsonFields.requiredLong(b, "credits_per_unit"),
        JsonFields.optionalLong(b, "markup_bps", 0),
        Math.toIntExact(
            JsonFields.optionalLongIn(b, "priority", 0, Integer.MIN_VALUE, Integer.MAX_VALUE)),
        JsonFields.optionalBool(b, "active", true));
  }

  private ObjectNode body(Context ctx) {
    return body(ctx, false);
  }

  private ObjectNode body(Context ctx, boolean emptyIsObject) {
    byte[] bytes;
    try (InputStream in = ctx.req().getInputStream()) {
      bytes = Bodies.readAll(in, maxBodyBytes, ctx.req().getContentLengthLong());
    } catch (Bodies.TooLargeException e) {
      throw new ApiError(
          413, "invalid_request_error", "request_too_large", "the request body is too large");
    } catch (IOException e) {
      throw ApiError.invalidRequest("the request body could not be read", null);
    }
    if (bytes.length == 0 && emptyIsObject) {
      return Json.MAPPER.createObjectNode();
    }
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(bytes);
    } catch (IOException e) {
      throw ApiError.invalidRequest("the request body is not valid JSON", null);
    }
    if (root == null || !root.isObject()) {
      throw ApiError.invalidRequest("the request body must be a JSON object", null);
    }
    return (ObjectNode) root;
  }

  static String accountId(String id, String param) {
    try {
      return BillingContext.requireValidAccountId(id);
    } catch (IllegalArgumentException e) {
      throw ApiError.validation(e.getMessage().replaceFirst("^accountId", param), param);
    }
  }

  private static String eventId(String eventId) {
    try {
      return LedgerChecks.requireEventId(eventId);
    } catch (IllegalArgumentException e) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "invalid_idempotency_key",
          "Idempotency-Key must be 1-"
              + LedgerChecks.MAX_EVENT_ID_LENGTH
              + " printable ASCII characters without spaces",
          "Idempotency-Key");
    }
  }

  private static String cursor(Context ctx) {
    String c = ctx.queryParam("cursor");
    if (c != null && c.length() > 500) {
      throw ApiError.validation("cursor is too long", "cursor");
    }
    return c == null || c.isEmpty() ? null : c;
  }

  private static int limit(Context ctx) {
    String l = ctx.queryParam("limit");
    if (l == null || l.isEmpty()) {
      return DEFAULT_PAGE;
    }
    try {
      int n = Integer.parseInt(l);
      if (n < 1 || n > MAX_PAGE) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw ApiError.validation(
          "limit must be an integer between 1 and "
              + MAX_PAGE
              + ", but was '"
              + Authenticator.abbreviate(l)
              + "'",
          "limit");
    }
  }

  /** The parameter a rejected argument names, if its check named one. */
  private static String parameter(RuntimeException e) {
    return e instanceof InvalidArgumentException invalid ? invalid.parameter() : null;
  }

  private static void json(Context ctx, int status, ObjectNode body) {
    ctx.status(status).contentType("application/json").result(body.toString());
  }

  static ObjectNode account(Account a) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("object", "account");
    o.put("id", a.id());
    o.put("balance", a.balance());
    o.put("blocked", a.blocked());
    o.put("version", a.version());
    o.put("granted", a.granted());
    o.put("consumed", a.consumed());
    o.put("refunded", a.refunded());
    o.put("created_at", a.createdAt().toString());
    o.put("updated_at", a.updatedAt().toString());
    return o;
  }

  static ObjectNode entry(LedgerEntry e) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("object", "ledger_entry");
    o.put("id", e.id());
    o.put("account_id", e.accountId());
    o.put("event_id", e.eventId());
    o.put("kind", e.kind().name().toLowerCase(Locale.ROOT));
    o.put("amount", e.amount());
    o.put("balance_after", e.balanceAfter());
    o.put("request_id", e.requestId());
    o.put("scene", e.scene());
    o.put("model", e.model());
    ObjectNode u = o.putObject("usage");
    u.put("input_tokens", e.usage().inputTokens());
    u.put("output_tokens", e.usage().outputTokens());
    u.put("cached_tokens", e.usage().cachedTokens());
    u.put("reasoning_tokens", e.usage().reasoningTokens());
    o.put("cost_micros", e.costMicros());
    o.put("price_rule_id", e.priceRuleId());
    o.put("unpriced", e.unpriced());
    o.put("estimated", e.estimated());
    o.put("actor", e.actor());
    o.put("reason", e.reason());
    o.put("created_at", e.createdAt().toString());
    return o;
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
    if (k.revokedAt() == null) {
      o.putNull("revoked_at");
    } else {
      o.put("revoked_at", k.revokedAt().toString());
    }
    return o;
  }

  static ObjectNode rule(PriceRule r) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("object", "price_rule");
    o.put("id", r.id());
    o.put("scene", r.scene());
    o.put("provider", r.provider());
    o.put("model", r.model());
    o.put("input_price", r.inputPrice());
    o.put("output_price", r.outputPrice());
    o.put("cached_price", r.cachedPrice());
    o.put("reasoning_price", r.reasoningPrice());
    o.put("credits_per_unit", r.creditsPerUnit());
    o.put("markup_bps", r.markupBps());
    o.put("priority", r.priority());
    o.put("active", r.active());
    return o;
  }
}

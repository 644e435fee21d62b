package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.InvalidArgumentException;
import dev.creditgate.gateway.AdminTokenNameTakenException;
import dev.creditgate.gateway.AdminTokenStore;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKeyStore;
import dev.creditgate.gateway.GatewayLimits;
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
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;

/**
 * The operator API under {@code /admin/v1}: accounts, grants, blocks and entries here; holds,
 * credit policies, spend series, API keys, price rules, admin tokens and the live overview ({@link
 * AdminOverview}) in classes of their own. Every route is behind {@link AdminAuth}: the caller's
 * principal is resolved first, a viewer's change is refused, and a ledger entry records the
 * principal as its actor. Bad input is 400 (not JSON) or 422 (a field is wrong, named in {@code
 * param}); a reused idempotency key with another payload is 409. Its OpenAPI document and Swagger
 * UI ({@link AdminDocs}) are registered with it.
 */
public final class AdminApi {

  public static final String PREFIX = "/admin/v1";

  /** Under {@link #PREFIX}; served only when the ledger keeps accounts' credit policies. */
  static final String CREDIT_POLICY = "/accounts/{id}/credit-policy";

  private final CreditLedger ledger;
  private final LedgerCreditMeter meter;
  private final AdminAuth auth;
  private final AdminRequests requests;
  private final AdminHolds holds;
  private final AdminOverview overview;
  private final AdminCreditPolicies policies;
  private final AdminKeys keys;
  private final AdminPriceRules rules;
  private final AdminTokens tokens;

  /** Null when the ledger keeps no spend series. */
  private final AdminSpend spend;

  private final AdminDocs docs;
  private final GatewayMetrics metrics;

  /** Null when the console is off: no admin token is set. */
  private final Console console;

  public AdminApi(
      CreditLedger ledger,
      PriceBook prices,
      ApiKeyStore keys,
      AdminTokenStore adminTokens,
      AdminAuth auth,
      long maxBodyBytes,
      GatewayMetrics metrics,
      LedgerCreditMeter meter,
      GatewayLimits limits,
      AdminOverview overview,
      InstantSource clock) {
    this.ledger = ledger;
    this.meter = meter;
    this.auth = auth;
    this.requests = new AdminRequests(maxBodyBytes);
    this.holds = new AdminHolds(meter);
    this.overview = overview;
    this.policies =
        ledger instanceof CreditPolicies p ? new AdminCreditPolicies(ledger, p, meter) : null;
    this.keys = new AdminKeys(ledger, keys, requests);
    this.rules = new AdminPriceRules(prices, requests);
    this.tokens = new AdminTokens(adminTokens, requests);
    this.spend = ledger instanceof SpendSeries s ? new AdminSpend(ledger, s, clock) : null;
    Set<String> unserved = new HashSet<>();
    if (policies == null) {
      unserved.add(CREDIT_POLICY);
    }
    if (spend == null) {
      unserved.addAll(Set.of(AdminSpend.SPEND, AdminSpend.ACCOUNT_SPEND));
    }
    this.docs = new AdminDocs(unserved);
    this.metrics = metrics;
    this.console =
        auth.sessions()
            .map(
                sessions ->
                    new Console(
                        sessions,
                        auth::principalOf,
                        new FailedAuthLimiter(
                            limits.authFailuresPerAddress(),
                            limits.authFailureWindow(),
                            Ticker.systemTicker()),
                        new ClientAddresses(limits.clientAddressHeader())))
            .orElse(null);
  }

  public void register(RoutesConfig routes) {
    docs.register(routes);
    if (console != null) {
      console.register(routes);
    }
    holds.register(routes, PREFIX, this::guarded);
    overview.register(routes, PREFIX, this::guarded);
    routes.get(PREFIX + "/accounts", guarded(this::listAccounts));
    routes.post(PREFIX + "/accounts", guarded(this::openAccount));
    routes.get(PREFIX + "/accounts/{id}", guarded(this::getAccount));
    routes.post(PREFIX + "/accounts/{id}/grants", guarded(this::grant));
    routes.post(PREFIX + "/accounts/{id}/block", guarded(ctx -> blockOrUnblock(ctx, true)));
    routes.post(PREFIX + "/accounts/{id}/unblock", guarded(ctx -> blockOrUnblock(ctx, false)));
    routes.get(PREFIX + "/accounts/{id}/entries", guarded(this::entries));
    if (policies != null) {
      String policy = PREFIX + CREDIT_POLICY;
      routes.get(policy, guarded(ctx -> policies.get(ctx, accountId(ctx))));
      routes.put(
          policy, guarded(ctx -> policies.put(ctx, accountId(ctx), requests.body(ctx, true))));
      routes.delete(policy, guarded(ctx -> policies.delete(ctx, accountId(ctx))));
    }
    if (spend != null) {
      spend.register(routes, PREFIX, this::guarded);
    }
    keys.register(routes, PREFIX, this::guarded);
    rules.register(routes, PREFIX, this::guarded);
    tokens.register(routes, PREFIX, this::guarded);
  }

  Handler guarded(Handler inner) {
    return ctx -> {
      int status = 500;
      try {
        auth.authorize(ctx);
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
      } catch (AdminTokenNameTakenException e) {
        status = 409;
        LlmCalls.respondError(
            ctx,
            new ApiError(
                409, "invalid_request_error", "admin_token_name_taken", e.getMessage(), "name"));
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

  private void listAccounts(Context ctx) {
    Page<Account> page = ledger.accounts(AdminRequests.cursor(ctx), AdminRequests.limit(ctx));
    ObjectNode root = AdminRequests.list(page.items(), this::withHolds);
    root.put("next_cursor", page.nextCursor());
    AdminRequests.json(ctx, 200, root);
  }

  /** The account with what this process holds of it and what is left. */
  private ObjectNode withHolds(Account a) {
    ObjectNode body = account(a);
    // Holds live in the gateway process that admitted their calls: this one's.
    long held = meter.heldCredits(a.id());
    body.put("held", held);
    body.put("available", a.balance() - held);
    return body;
  }

  private void openAccount(Context ctx) {
    ObjectNode body = requests.body(ctx);
    String id = JsonFields.requiredString(body, "id");
    AdminRequests.accountId(id, "id");
    Account opened = ledger.openAccount(id);
    AdminAuth.audit(ctx, "opened account " + id);
    AdminRequests.json(ctx, 201, account(opened));
  }

  private void getAccount(Context ctx) {
    String id = accountId(ctx);
    Account a = ledger.account(id).orElseThrow(() -> new AccountNotFoundException(id));
    ObjectNode body = withHolds(a);
    AdminCreditPolicies.put(body.putObject("credit_policy"), meter.effectivePolicy(id));
    AdminRequests.json(ctx, 200, body);
  }

  private void grant(Context ctx) {
    String id = accountId(ctx);
    String eventId = ctx.header("Idempotency-Key");
    if (eventId == null || eventId.isBlank()) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "missing_idempotency_key",
          "a grant needs an Idempotency-Key header so a retry cannot grant twice",
          "Idempotency-Key");
    }
    AdminRequests.eventId(eventId.trim());
    ObjectNode body = requests.body(ctx);
    long amount = JsonFields.requiredLong(body, "amount");
    LedgerChecks.requirePositiveAmount("amount", amount);
    String reason = JsonFields.optionalString(body, "reason", "");
    String actor = AdminAuth.actor(ctx, body);
    LedgerEntry e = ledger.grant(id, amount, eventId.trim(), actor, reason);
    AdminRequests.json(ctx, 201, entry(e));
  }

  private void blockOrUnblock(Context ctx, boolean block) {
    String id = accountId(ctx);
    ObjectNode body = requests.body(ctx, true);
    String given = ctx.header("Idempotency-Key");
    String eventId =
        given == null || given.isBlank()
            ? (block ? "block_" : "unblock_") + UUID.randomUUID()
            : AdminRequests.eventId(given.trim());
    String reason = JsonFields.optionalString(body, "reason", "");
    String actor = AdminAuth.actor(ctx, body);
    if (ledger.account(id).isEmpty()) {
      throw new AccountNotFoundException(id);
    }
    LedgerEntry e =
        block
            ? ledger.block(id, eventId, actor, reason)
            : ledger.unblock(id, eventId, actor, reason);
    AdminRequests.json(ctx, 200, entry(e));
  }

  private void entries(Context ctx) {
    String id = accountId(ctx);
    if (ledger.account(id).isEmpty()) {
      throw new AccountNotFoundException(id);
    }
    Page<LedgerEntry> page =
        ledger.entries(id, AdminRequests.cursor(ctx), AdminRequests.limit(ctx));
    ObjectNode root = AdminRequests.list(page.items(), AdminApi::entry);
    root.put("next_cursor", page.nextCursor());
    AdminRequests.json(ctx, 200, root);
  }

  /** The account id of the path, checked. */
  private static String accountId(Context ctx) {
    return AdminRequests.accountId(ctx.pathParam("id"), "id");
  }

  /** The parameter a rejected argument names, if its check named one. */
  private static String parameter(RuntimeException e) {
    return e instanceof InvalidArgumentException invalid ? invalid.parameter() : null;
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
}

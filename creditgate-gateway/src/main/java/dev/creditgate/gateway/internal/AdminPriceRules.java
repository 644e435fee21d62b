package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.ledger.PriceBook;
import dev.creditgate.pricing.PriceRule;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.function.UnaryOperator;

/**
 * The admin API's price rules: list, create, replace and deactivate (a rule is never deleted, so
 * the entries that name it keep meaning something). Each change is logged with the admin who made
 * it.
 */
final class AdminPriceRules {

  private final PriceBook prices;
  private final AdminRequests requests;

  AdminPriceRules(PriceBook prices, AdminRequests requests) {
    this.prices = prices;
    this.requests = requests;
  }

  /** Registers the routes, each wrapped by {@code guarded} (authorization and errors). */
  void register(RoutesConfig routes, String prefix, UnaryOperator<Handler> guarded) {
    routes.get(prefix + "/price-rules", guarded.apply(this::list));
    routes.post(prefix + "/price-rules", guarded.apply(this::create));
    routes.put(prefix + "/price-rules/{id}", guarded.apply(this::update));
    routes.delete(prefix + "/price-rules/{id}", guarded.apply(this::deactivate));
    new AdminQuotes(this::find).register(routes, prefix, guarded);
  }

  private void list(Context ctx) {
    AdminRequests.json(ctx, 200, AdminRequests.list(prices.priceRules(), AdminPriceRules::rule));
  }

  private void create(Context ctx) {
    PriceRule created = prices.createPriceRule(read(requests.body(ctx), 0));
    AdminAuth.audit(ctx, "created price rule " + created.id());
    AdminRequests.json(ctx, 201, rule(created));
  }

  private void update(Context ctx) {
    long id = ruleId(ctx);
    find(id);
    PriceRule updated = prices.updatePriceRule(read(requests.body(ctx), id));
    AdminAuth.audit(ctx, "replaced price rule " + id + (updated.active() ? "" : " (inactive)"));
    AdminRequests.json(ctx, 200, rule(updated));
  }

  private void deactivate(Context ctx) {
    long id = ruleId(ctx);
    PriceRule existing = find(id);
    PriceRule off = prices.updatePriceRule(existing.withActive(false));
    AdminAuth.audit(ctx, "deactivated price rule " + id);
    AdminRequests.json(ctx, 200, rule(off));
  }

  /** The stored rule {@code id}, or a 404 naming it. */
  PriceRule find(long id) {
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

  private static PriceRule read(ObjectNode b, long id) {
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

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.function.LongFunction;
import java.util.function.UnaryOperator;

/**
 * {@code GET /admin/v1/price-quote}: what a usage costs on a price rule, computed by the same
 * pricing code that charges calls, so a page showing a worked example never re-implements it. The
 * rule is a stored one ({@code rule_id}) or a draft given by its prices in the query (as a form
 * shows it before it is saved); either way nothing is stored.
 */
final class AdminQuotes {

  static final String PATH = "/price-quote";

  /** The stored rule with an id, or a 404. */
  private final LongFunction<PriceRule> stored;

  AdminQuotes(LongFunction<PriceRule> stored) {
    this.stored = stored;
  }

  void register(RoutesConfig routes, String prefix, UnaryOperator<Handler> guarded) {
    routes.get(prefix + PATH, guarded.apply(this::quote));
  }

  private void quote(Context ctx) {
    PriceRule rule =
        ctx.queryParam("rule_id") != null ? stored.apply(param(ctx, "rule_id", 0, 1)) : draft(ctx);
    Usage usage =
        new Usage(
            param(ctx, "input_tokens", 0, 0),
            param(ctx, "output_tokens", 0, 0),
            param(ctx, "cached_tokens", 0, 0),
            param(ctx, "reasoning_tokens", 0, 0));
    Quote q = Pricing.quote(rule, usage);
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("object", "price_quote");
    o.put("rule_id", rule.id());
    ObjectNode u = o.putObject("usage");
    u.put("input_tokens", usage.inputTokens());
    u.put("output_tokens", usage.outputTokens());
    u.put("cached_tokens", usage.cachedTokens());
    u.put("reasoning_tokens", usage.reasoningTokens());
    o.put("cost_micros", q.costMicros());
    o.put("credits", q.credits());
    AdminRequests.json(ctx, 200, o);
  }

  private static PriceRule draft(Context ctx) {
    return new PriceRule(
        0,
        "",
        "",
        "",
        param(ctx, "input_price", -1, 0),
        param(ctx, "output_price", -1, 0),
        param(ctx, "cached_price", 0, Long.MIN_VALUE),
        param(ctx, "reasoning_price", 0, Long.MIN_VALUE),
        param(ctx, "credits_per_unit", -1, 1),
        param(ctx, "markup_bps", 0, 0),
        0,
        true);
  }

  /**
   * A whole-number query parameter of at least {@code min}; {@code absent} when missing, or
   * required when {@code absent} is -1.
   */
  private static long param(Context ctx, String name, long absent, long min) {
    String text = ctx.queryParam(name);
    if (text == null || text.isEmpty()) {
      if (absent == -1) {
        throw ApiError.validation(name + " is required", name);
      }
      return absent;
    }
    try {
      long v = Long.parseLong(text.trim());
      if (v < min) {
        throw new NumberFormatException();
      }
      return v;
    } catch (NumberFormatException e) {
      throw ApiError.validation(
          name
              + " must be an integer"
              + (min == Long.MIN_VALUE ? "" : " >= " + min)
              + ", but was '"
              + Authenticator.abbreviate(text)
              + "'",
          name);
    }
  }
}

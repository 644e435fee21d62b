package dev.creditgate.pricing;

import java.util.Collection;
import java.util.Comparator;
import java.util.Optional;

/**
 * What usage costs under a price rule, in exact integer arithmetic:
 *
 * <ul>
 *   <li>cached tokens are capped at input tokens, reasoning tokens at output tokens;
 *   <li>a cached or reasoning price <= 0 falls back to the input or output price;
 *   <li>with a markup each price becomes {@code ceil(price * (10000 + bps) / 10000)};
 *   <li>{@code cost_micros = ceil(sum(tokens * price) / 1000)} over uncached input, cached input,
 *       non-reasoning output and reasoning output;
 *   <li>{@code credits = ceil(cost_micros * credits_per_unit / 1,000,000)}.
 * </ul>
 *
 * Every step is overflow-checked and throws {@link ArithmeticException} rather than wrap.
 */
public final class Pricing {

  /** Highest priority first, then lowest id. */
  public static final Comparator<PriceRule> RULE_ORDER =
      Comparator.comparingInt(PriceRule::priority).reversed().thenComparingLong(PriceRule::id);

  private Pricing() {}

  /** The rule that prices a call: the first match in {@link #RULE_ORDER}. */
  public static Optional<PriceRule> match(
      Collection<PriceRule> rules, String scene, String provider, String model) {
    return rules.stream().filter(rule -> rule.matches(scene, provider, model)).min(RULE_ORDER);
  }

  /** Prices {@code usage} with the matching rule, or {@link Quote#UNPRICED} when none matches. */
  public static Quote quote(
      Collection<PriceRule> rules, String scene, String provider, String model, Usage usage) {
    return match(rules, scene, provider, model)
        .map(rule -> quote(rule, usage))
        .orElse(Quote.UNPRICED);
  }

  /** Prices {@code usage} with {@code rule}. */
  public static Quote quote(PriceRule rule, Usage usage) {
    long cached = Math.min(usage.cachedTokens(), usage.inputTokens());
    long reasoning = Math.min(usage.reasoningTokens(), usage.outputTokens());
    long inputPrice = markup(rule.inputPrice(), rule.markupBps());
    long outputPrice = markup(rule.outputPrice(), rule.markupBps());
    long cachedPrice =
        rule.cachedPrice() > 0 ? markup(rule.cachedPrice(), rule.markupBps()) : inputPrice;
    long reasoningPrice =
        rule.reasoningPrice() > 0 ? markup(rule.reasoningPrice(), rule.markupBps()) : outputPrice;

    long sum = Math.multiplyExact(usage.inputTokens() - cached, inputPrice);
    sum = Math.addExact(sum, Math.multiplyExact(cached, cachedPrice));
    sum = Math.addExact(sum, Math.multiplyExact(usage.outputTokens() - reasoning, outputPrice));
    sum = Math.addExact(sum, Math.multiplyExact(reasoning, reasoningPrice));
    long costMicros = ceilDiv(sum, 1000);
    long credits = ceilDiv(Math.multiplyExact(costMicros, rule.creditsPerUnit()), 1_000_000);
    return new Quote(costMicros, credits, rule.id(), false);
  }

  /** {@code ceil(price * (10000 + bps) / 10000)}. */
  public static long markup(long price, long bps) {
    if (bps == 0) {
      return price;
    }
    return ceilDiv(Math.multiplyExact(price, Math.addExact(10_000L, bps)), 10_000);
  }

  private static long ceilDiv(long value, long divisor) {
    return Math.ceilDiv(value, divisor);
  }
}

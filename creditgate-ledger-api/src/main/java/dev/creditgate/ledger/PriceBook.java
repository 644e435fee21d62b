package dev.creditgate.ledger;

import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.util.List;

/** The ledger's price rules, and what usage costs under them. */
public interface PriceBook {

  List<PriceRule> priceRules();

  /** Stores a new rule; its id is assigned. */
  PriceRule createPriceRule(PriceRule rule);

  /** Replaces the rule with {@code rule.id()}. */
  PriceRule updatePriceRule(PriceRule rule);

  /**
   * What {@code usage} costs under the active rules. When none matches, the quote is {@link
   * Quote#unpriced()} and costs the {@link #unpricedFallbackCreditsPer1kTokens() fallback} (0
   * without one).
   */
  Quote quote(String scene, String provider, String model, Usage usage);

  /**
   * What a charge no rule matches costs, in credits per 1,000 of its tokens (input and output
   * alike); 0 when it costs nothing.
   */
  default long unpricedFallbackCreditsPer1kTokens() {
    return 0;
  }

  /**
   * The most a call of {@code inputTokens} input and at most {@code outputTokens} output can cost:
   * the output priced at the dearer of the rule's output and reasoning prices, nothing cached.
   * {@link Quote#unpriced()} when no rule matches.
   *
   * @throws ArithmeticException when the cost does not fit in a long
   */
  default Quote worstCase(
      String scene, String provider, String model, long inputTokens, long outputTokens) {
    Quote plain = quote(scene, provider, model, new Usage(inputTokens, outputTokens, 0, 0));
    if (plain.unpriced() || outputTokens == 0) {
      return plain;
    }
    Quote reasoning =
        quote(scene, provider, model, new Usage(inputTokens, outputTokens, 0, outputTokens));
    return reasoning.credits() > plain.credits() ? reasoning : plain;
  }
}

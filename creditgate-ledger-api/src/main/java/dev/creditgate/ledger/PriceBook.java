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

  /** What {@code usage} costs under the active rules. */
  Quote quote(String scene, String provider, String model, Usage usage);
}

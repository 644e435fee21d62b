package dev.creditgate.pricing;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/**
 * More tokens never cost less. Tokens are added the way usage grows: plain input, plain output,
 * cached input (input and cached together, since cached tokens are part of the input) or reasoning
 * output (output and reasoning together).
 */
class PricingPropertiesTest {

  @Provide
  Arbitrary<PriceRule> rules() {
    Arbitrary<Long> price = Arbitraries.longs().between(0, 100_000);
    Arbitrary<Long> special = Arbitraries.longs().between(-10, 100_000);
    return Combinators.combine(
            price,
            price,
            special,
            special,
            Arbitraries.longs().between(1, 10_000),
            Arbitraries.longs().between(0, 10_000))
        .as(
            (input, output, cached, reasoning, credits, markup) ->
                new PriceRule(
                    1, "", "", "", input, output, cached, reasoning, credits, markup, 0, true));
  }

  @Provide
  Arbitrary<Usage> usages() {
    Arbitrary<Long> tokens = Arbitraries.longs().between(0, 2_000_000);
    return Combinators.combine(tokens, tokens, tokens, tokens).as(Usage::new);
  }

  @Property(tries = 2000)
  void costNeverDecreasesWhenTokensAreAdded(
      @ForAll("rules") PriceRule rule,
      @ForAll("usages") Usage usage,
      @ForAll @IntRange(min = 0, max = 3) int kind,
      @ForAll @LongRange(min = 1, max = 1_000_000) long added) {
    Usage more =
        switch (kind) {
          case 0 ->
              new Usage(
                  usage.inputTokens() + added,
                  usage.outputTokens(),
                  usage.cachedTokens(),
                  usage.reasoningTokens());
          case 1 ->
              new Usage(
                  usage.inputTokens(),
                  usage.outputTokens() + added,
                  usage.cachedTokens(),
                  usage.reasoningTokens());
          case 2 ->
              new Usage(
                  usage.inputTokens() + added,
                  usage.outputTokens(),
                  usage.cachedTokens() + added,
                  usage.reasoningTokens());
          default ->
              new Usage(
                  usage.inputTokens(),
                  usage.outputTokens() + added,
                  usage.cachedTokens(),
                  usage.reasoningTokens() + added);
        };
    Quote before = Pricing.quote(rule, usage);
    Quote after = Pricing.quote(rule, more);
    assertThat(after.costMicros()).isGreaterThanOrEqualTo(before.costMicros());
    assertThat(after.credits()).isGreaterThanOrEqualTo(before.credits());
  }

  @Property(tries = 1000)
  void pricingIsExactlyTheCeilingOfTheIntegerFormula(
      @ForAll("rules") PriceRule rule, @ForAll("usages") Usage usage) {
    Quote quote = Pricing.quote(rule, usage);
    assertThat(quote.costMicros() * 1000).isGreaterThanOrEqualTo(rawSum(rule, usage));
    assertThat((quote.costMicros() - 1) * 1000).isLessThan(rawSum(rule, usage));
  }

  private static long rawSum(PriceRule rule, Usage usage) {
    long cached = Math.min(usage.cachedTokens(), usage.inputTokens());
    long reasoning = Math.min(usage.reasoningTokens(), usage.outputTokens());
    long input = Pricing.markup(rule.inputPrice(), rule.markupBps());
    long output = Pricing.markup(rule.outputPrice(), rule.markupBps());
    long cachedPrice =
        rule.cachedPrice() > 0 ? Pricing.markup(rule.cachedPrice(), rule.markupBps()) : input;
    long reasoningPrice =
        rule.reasoningPrice() > 0
            ? Pricing.markup(rule.reasoningPrice(), rule.markupBps())
            : output;
    return (usage.inputTokens() - cached) * input
        + cached * cachedPrice
        + (usage.outputTokens() - reasoning) * output
        + reasoning * reasoningPrice;
  }
}

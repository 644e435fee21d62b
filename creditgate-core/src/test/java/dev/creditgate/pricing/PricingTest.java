package dev.creditgate.pricing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Quotes on an example rule (input 3200, output 16000, cached 800, reasoning 16000 micros per 1K
 * tokens, 100 credits per currency unit); every expected figure is worked out by hand in the
 * comment above it.
 */
class PricingTest {

  static final PriceRule EXAMPLE =
      new PriceRule(1, "", "", "", 3200, 16000, 800, 16000, 100, 0, 0, true);

  @Test
  void mixedUsage() {
    // 800 uncached x 3200 = 2,560,000; 200 cached x 800 = 160,000; 400 output x 16000 = 6,400,000;
    // 100 reasoning x 16000 = 1,600,000. Sum 10,720,000 / 1000 = 10,720 micros.
    // Credits: ceil(10,720 x 100 / 1,000,000) = ceil(1.072) = 2.
    assertThat(Pricing.quote(EXAMPLE, new Usage(1000, 500, 200, 100)))
        .isEqualTo(new Quote(10_720, 2, 1, false));
  }

  @Test
  void inputOnly() {
    // 1000 x 3200 = 3,200,000 / 1000 = 3,200 micros; ceil(320,000 / 1,000,000) = 1 credit.
    assertThat(Pricing.quote(EXAMPLE, new Usage(1000, 0, 0, 0)))
        .isEqualTo(new Quote(3_200, 1, 1, false));
  }

  @Test
  void largeUsage() {
    // 1,000,000 x 3200 + 1,000,000 x 16000 = 19,200,000,000 / 1000 = 19,200,000 micros;
    // 19,200,000 x 100 / 1,000,000 = 1,920 credits exactly.
    assertThat(Pricing.quote(EXAMPLE, new Usage(1_000_000, 1_000_000, 0, 0)))
        .isEqualTo(new Quote(19_200_000, 1_920, 1, false));
  }

  @Test
  void nothingUsedCostsNothing() {
    assertThat(Pricing.quote(EXAMPLE, Usage.ZERO)).isEqualTo(new Quote(0, 0, 1, false));
  }

  @Test
  void fractionsRoundUp() {
    // 1 x 3200 = 3,200 / 1000 = 3.2 -> 4 micros; 4 x 100 / 1,000,000 -> 1 credit.
    assertThat(Pricing.quote(EXAMPLE, new Usage(1, 0, 0, 0))).isEqualTo(new Quote(4, 1, 1, false));
  }

  @Test
  void cachedTokensAreCappedAtInputAndReasoningAtOutput() {
    // Cached 500 capped at 100 input: 100 x 800 = 80,000. Reasoning 80 capped at 50 output:
    // 50 x 16000 = 800,000. Sum 880,000 / 1000 = 880 micros; ceil(88,000 / 1,000,000) = 1 credit.
    assertThat(Pricing.quote(EXAMPLE, new Usage(100, 50, 500, 80)))
        .isEqualTo(new Quote(880, 1, 1, false));
  }

  @Test
  void cachedAndReasoningPricesOfZeroFallBackToInputAndOutput() {
    PriceRule noSpecialPrices = new PriceRule(2, "", "", "", 3200, 16000, 0, -1, 100, 0, 0, true);
    // 1000 input x 3200 = 3,200,000; 500 output x 16000 = 8,000,000. 11,200,000 / 1000 = 11,200
    // micros;
    // ceil(1,120,000 / 1,000,000) = 2 credits.
    assertThat(Pricing.quote(noSpecialPrices, new Usage(1000, 500, 200, 100)))
        .isEqualTo(new Quote(11_200, 2, 2, false));
  }

  @Test
  void markupRaisesEveryPriceRoundingUp() {
    PriceRule marked = new PriceRule(3, "", "", "", 3200, 16000, 800, 16000, 100, 2500, 0, true);
    // +25%: input 4000, output 20000, cached 1000, reasoning 20000.
    // 800 x 4000 = 3,200,000; 200 x 1000 = 200,000; 400 x 20000 = 8,000,000; 100 x 20000 =
    // 2,000,000.
    // Sum 13,400,000 / 1000 = 13,400 micros; ceil(1,340,000 / 1,000,000) = 2 credits.
    assertThat(Pricing.quote(marked, new Usage(1000, 500, 200, 100)))
        .isEqualTo(new Quote(13_400, 2, 3, false));
    // 3 x 10001 / 10000 = 3.0003 -> 4.
    assertThat(Pricing.markup(3, 1)).isEqualTo(4);
    assertThat(Pricing.markup(3200, 0)).isEqualTo(3200);
  }

  @Test
  void rulesMatchByPriorityThenLowestId() {
    PriceRule chatLow = new PriceRule(1, "chat", "", "", 1, 1, 0, 0, 1, 0, 0, true);
    PriceRule anyHigh = new PriceRule(2, "*", "", "", 2, 2, 0, 0, 1, 0, 5, true);
    PriceRule chatHigh = new PriceRule(3, "chat", "", "", 3, 3, 0, 0, 1, 0, 5, true);
    PriceRule inactiveTop = new PriceRule(4, "chat", "", "", 4, 4, 0, 0, 1, 0, 99, false);
    List<PriceRule> rules = List.of(chatLow, chatHigh, anyHigh, inactiveTop);

    assertThat(Pricing.match(rules, " CHAT ", "openai", "gpt")).contains(anyHigh);
    assertThat(Pricing.match(List.of(chatLow, chatHigh), "chat", "", "")).contains(chatHigh);
    assertThat(Pricing.match(List.of(chatLow, inactiveTop), "other", "", "")).isEmpty();
  }

  @Test
  void exactFieldsMatchCaseInsensitivelyAndWildcardsMatchAnything() {
    PriceRule rule = new PriceRule(1, "", "OpenAI", "*", 1, 1, 0, 0, 1, 0, 0, true);
    assertThat(rule.matches("any", " openai ", "whatever")).isTrue();
    assertThat(rule.matches("any", "anthropic", "whatever")).isFalse();
  }

  @Test
  void noMatchingRuleIsUnpricedNotSilentlyFree() {
    PriceRule chat = new PriceRule(1, "chat", "", "", 3200, 16000, 800, 16000, 100, 0, 0, true);
    Quote quote =
        Pricing.quote(List.of(chat), "search", "openai", "gpt", new Usage(1000, 500, 0, 0));
    assertThat(quote).isEqualTo(Quote.UNPRICED);
    assertThat(quote.unpriced()).isTrue();
  }

  @Test
  void overflowThrowsInsteadOfWrapping() {
    PriceRule expensive = new PriceRule(1, "", "", "", PriceRule.MAX_PRICE, 0, 0, 0, 1, 0, 0, true);
    assertThatThrownBy(() -> Pricing.quote(expensive, new Usage(Long.MAX_VALUE / 2, 0, 0, 0)))
        .isInstanceOf(ArithmeticException.class);
  }

  @Test
  void badRulesAreRejectedNamingTheValue() {
    assertThatThrownBy(() -> new PriceRule(0, "", "", "", -1, 0, 0, 0, 1, 0, 0, true))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inputPrice")
        .hasMessageContaining("-1");
    assertThatThrownBy(() -> new PriceRule(0, "", "", "", 1, 1, 0, 0, 0, 0, 0, true))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("creditsPerUnit");
    assertThatThrownBy(() -> new Usage(-1, 0, 0, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inputTokens");
  }
}

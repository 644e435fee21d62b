package dev.creditgate.pricing;

import dev.creditgate.Checks;
import dev.creditgate.InvalidArgumentException;
import java.util.Objects;

/**
 * A price for the calls it matches. Scene, provider and model each match exactly (trimmed,
 * case-insensitive) or, when empty or {@code *}, anything. Prices are micro-currency per 1,000
 * tokens; credits per currency unit converts cost to credits; markup is in basis points.
 *
 * @param id the rule's id (0 for a rule not yet stored)
 * @param priority higher wins; ties go to the lower id
 * @param active inactive rules never match
 */
public record PriceRule(
    long id,
    String scene,
    String provider,
    String model,
    long inputPrice,
    long outputPrice,
    long cachedPrice,
    long reasoningPrice,
    long creditsPerUnit,
    long markupBps,
    int priority,
    boolean active) {

  /** The largest price per 1,000 tokens accepted: a thousand currency units. */
  public static final long MAX_PRICE = 1_000_000_000L;

  /** The largest markup accepted: +1000%. */
  public static final long MAX_MARKUP_BPS = 100_000;

  /** The largest credits-per-currency-unit accepted. */
  public static final long MAX_CREDITS_PER_UNIT = 1_000_000_000L;

  public PriceRule {
    scene = normalizePattern(scene);
    provider = normalizePattern(provider);
    model = normalizePattern(model);
    Checks.requireBetween("inputPrice", inputPrice, 0, MAX_PRICE);
    Checks.requireBetween("outputPrice", outputPrice, 0, MAX_PRICE);
    // Cached and reasoning prices <= 0 mean "same as input/output" (see Pricing).
    Checks.requireBetween("cachedPrice", cachedPrice, Long.MIN_VALUE, MAX_PRICE);
    Checks.requireBetween("reasoningPrice", reasoningPrice, Long.MIN_VALUE, MAX_PRICE);
    Checks.requireBetween("creditsPerUnit", creditsPerUnit, 1, MAX_CREDITS_PER_UNIT);
    Checks.requireBetween("markupBps", markupBps, 0, MAX_MARKUP_BPS);
    if (id < 0) {
      throw new InvalidArgumentException("id", "id must be >= 0, but was " + id);
    }
  }

  /** Whether this rule applies to a call in {@code scene} on {@code provider}'s {@code model}. */
  public boolean matches(String scene, String provider, String model) {
    return active
        && fieldMatches(this.scene, scene)
        && fieldMatches(this.provider, provider)
        && fieldMatches(this.model, model);
  }

  public PriceRule withId(long newId) {
    return new PriceRule(
        newId,
        scene,
        provider,
        model,
        inputPrice,
        outputPrice,
        cachedPrice,
        reasoningPrice,
        creditsPerUnit,
        markupBps,
        priority,
        active);
  }

  public PriceRule withActive(boolean newActive) {
    return new PriceRule(
        id,
        scene,
        provider,
        model,
        inputPrice,
        outputPrice,
        cachedPrice,
        reasoningPrice,
        creditsPerUnit,
        markupBps,
        priority,
        newActive);
  }

  private static boolean fieldMatches(String pattern, String value) {
    return pattern.isEmpty()
        || pattern.equals("*")
        || pattern.equalsIgnoreCase(Objects.requireNonNullElse(value, "").trim());
  }

  private static String normalizePattern(String value) {
    return value == null ? "" : value.trim();
  }
}

package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.LedgerUnavailableException;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The price rules in the {@code price_rules} table, and the prices of charges under them. Charges
 * are priced with the rules read last, refreshed in the background ({@link RefreshingRead}): a
 * strict meter prices every admission, and no call waits for the database for that. While the
 * database is away, stale rules price better than none.
 */
final class PriceRules {

  private static final String RULE_COLUMNS =
      "id, scene, provider, model, input_price, output_price, cached_price, "
          + "reasoning_price, credits_per_unit, markup_bps, priority, active";

  private final LedgerDatabase db;
  private final RefreshingRead<List<PriceRule>> rules;
  private final long unpricedFallback;

  PriceRules(LedgerDatabase db, LedgerOptions options) {
    this.db = db;
    this.rules =
        new RefreshingRead<>(
            "price-rules",
            () -> db.read(this::loadRules),
            System::nanoTime,
            options.priceRuleRefresh());
    this.unpricedFallback = options.unpricedFallbackCreditsPer1kTokens();
  }

  /** Reads the rules from the database (and keeps them for pricing). */
  List<PriceRule> load() {
    return rules.load();
  }

  private List<PriceRule> loadRules(Connection c) throws SQLException {
    List<PriceRule> loaded = new ArrayList<>();
    try (PreparedStatement s =
        db.prepare(c, "SELECT " + RULE_COLUMNS + " FROM price_rules ORDER BY priority DESC, id")) {
      try (ResultSet rows = s.executeQuery()) {
        while (rows.next()) {
          loaded.add(
              new PriceRule(
                  rows.getLong("id"),
                  rows.getString("scene"),
                  rows.getString("provider"),
                  rows.getString("model"),
                  rows.getLong("input_price"),
                  rows.getLong("output_price"),
                  rows.getLong("cached_price"),
                  rows.getLong("reasoning_price"),
                  rows.getLong("credits_per_unit"),
                  rows.getLong("markup_bps"),
                  rows.getInt("priority"),
                  rows.getBoolean("active")));
        }
      }
    }
    return List.copyOf(loaded);
  }

  PriceRule create(PriceRule rule) {
    Objects.requireNonNull(rule, "rule");
    LedgerArguments.checkRuleFields(rule);
    Instant now = db.now();
    PriceRule created =
        db.transaction(
            c -> {
              try (PreparedStatement s =
                  db.prepare(
                      c,
                      "INSERT INTO price_rules (scene, provider, model, input_price, "
                          + "output_price, cached_price, reasoning_price, credits_per_unit, markup_bps, priority, active, created_at, "
                          + "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")) {
                int next = bindRule(s, rule);
                db.dialect().setInstant(s, next, now);
                db.dialect().setInstant(s, next + 1, now);
                try (ResultSet rows = s.executeQuery()) {
                  rows.next();
                  return rule.withId(rows.getLong(1));
                }
              }
            });
    rules.invalidate();
    return created;
  }

  PriceRule update(PriceRule rule) {
    Objects.requireNonNull(rule, "rule");
    LedgerArguments.requireStoredRuleId(rule.id());
    LedgerArguments.checkRuleFields(rule);
    Instant now = db.now();
    db.transaction(
        c -> {
          try (PreparedStatement s =
              db.prepare(
                  c,
                  "UPDATE price_rules SET scene = ?, provider = ?, model = ?, "
                      + "input_price = ?, output_price = ?, cached_price = ?, reasoning_price = ?, credits_per_unit = ?, "
                      + "markup_bps = ?, priority = ?, active = ?, updated_at = ? WHERE id = ?")) {
            int next = bindRule(s, rule);
            db.dialect().setInstant(s, next, now);
            s.setLong(next + 1, rule.id());
            if (s.executeUpdate() != 1) {
              throw LedgerArguments.notAStoredRule(rule.id());
            }
            return null;
          }
        });
    rules.invalidate();
    return rule;
  }

  /** Binds the rule's fields from the first parameter; returns the next parameter's index. */
  private static int bindRule(PreparedStatement s, PriceRule rule) throws SQLException {
    s.setString(1, rule.scene());
    s.setString(2, rule.provider());
    s.setString(3, rule.model());
    s.setLong(4, rule.inputPrice());
    s.setLong(5, rule.outputPrice());
    s.setLong(6, rule.cachedPrice());
    s.setLong(7, rule.reasoningPrice());
    s.setLong(8, rule.creditsPerUnit());
    s.setLong(9, rule.markupBps());
    s.setInt(10, rule.priority());
    s.setBoolean(11, rule.active());
    return 12;
  }

  /**
   * What {@code usage} costs under the current rules; a charge no rule matches is {@link
   * Quote#unpriced()}, at the fallback price when there is one.
   *
   * @throws LedgerUnavailableException when no rules were ever read and the database cannot be read
   */
  Quote quoteFor(String scene, String provider, String model, Usage usage) {
    List<PriceRule> current = currentRules();
    try {
      Quote quote = Pricing.quote(current, scene, provider, model, usage);
      if (!quote.unpriced() || unpricedFallback == 0) {
        return quote;
      }
      long tokens = Math.addExact(usage.inputTokens(), usage.outputTokens());
      return new Quote(
          0, Math.ceilDiv(Math.multiplyExact(tokens, unpricedFallback), 1000), 0, true);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          "usage "
              + usage
              + " is too large to price for scene='"
              + scene
              + "' provider='"
              + provider
              + "' model='"
              + model
              + "'");
    }
  }

  private List<PriceRule> currentRules() {
    return rules.get();
  }
}

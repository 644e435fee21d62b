package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The entry one operation asks the ledger to record, before it has an id, an account, a balance and
 * a time. Under an event id already used it is compared with the stored entry: the fields that make
 * up the operation's payload must match.
 */
record EntryDraft(
    EntryKind kind,
    long amount,
    String requestId,
    String scene,
    String provider,
    String model,
    Usage usage,
    long costMicros,
    long priceRuleId,
    boolean unpriced,
    boolean estimated,
    String refEventId,
    String actor,
    String reason,
    String metadata) {

  /**
   * The overrun member of a metadata object (a JSON string value never matches: its quotes are
   * escaped).
   */
  private static final Pattern OVERRUN = Pattern.compile("\"overrun\"\\s*:\\s*(\\d+)");

  static EntryDraft simple(EntryKind kind, long amount, String actor, String reason) {
    return new EntryDraft(
        kind,
        amount,
        "",
        "",
        "",
        "",
        Usage.ZERO,
        0,
        0,
        false,
        false,
        null,
        Objects.requireNonNullElse(actor, ""),
        Objects.requireNonNullElse(reason, ""),
        "{}");
  }

  static EntryDraft refund(String chargeEventId, long amount, String actor, String reason) {
    return new EntryDraft(
        EntryKind.REFUND,
        amount,
        "",
        "",
        "",
        "",
        Usage.ZERO,
        0,
        0,
        false,
        false,
        chargeEventId,
        Objects.requireNonNullElse(actor, ""),
        Objects.requireNonNullElse(reason, ""),
        "{\"chargeEventId\":\"" + jsonEscape(chargeEventId) + "\"}");
  }

  /** A charge priced by {@code quote}; the amount is the negated credits. */
  static EntryDraft charge(ChargeRequest r, Quote quote) {
    return new EntryDraft(
        EntryKind.CHARGE,
        -quote.credits(),
        r.requestId(),
        r.scene(),
        r.provider(),
        r.model(),
        r.usage(),
        quote.costMicros(),
        quote.ruleId(),
        quote.unpriced(),
        r.estimated(),
        null,
        "gateway",
        "",
        r.metadata());
  }

  /**
   * This charge with {@code "overrun"} (credits charged beyond what held the call) in its metadata,
   * a JSON object: {@code overrun}, or the overrun it already records when that is larger (both
   * count the same credits charged beyond the hold, so they are not added).
   */
  EntryDraft withOverrun(long overrun) {
    if (overrun <= overrunOf(metadata)) {
      return this;
    }
    String inner = withoutOverrun(metadata).strip();
    inner = inner.length() >= 2 ? inner.substring(1, inner.length() - 1).strip() : "";
    String meta = "{" + inner + (inner.isEmpty() ? "" : ",") + "\"overrun\":" + overrun + "}";
    return new EntryDraft(
        kind,
        amount,
        requestId,
        scene,
        provider,
        model,
        usage,
        costMicros,
        priceRuleId,
        unpriced,
        estimated,
        refEventId,
        actor,
        reason,
        meta);
  }

  /** The {@code "overrun"} a metadata object records, 0 when none. */
  static long overrunOf(String metadata) {
    Matcher m = OVERRUN.matcher(metadata);
    if (!m.find()) {
      return 0;
    }
    try {
      return Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }

  /** The metadata object without its {@code "overrun"} member (and the comma that separated it). */
  static String withoutOverrun(String metadata) {
    Matcher m = OVERRUN.matcher(metadata);
    if (!m.find()) {
      return metadata;
    }
    int start = m.start();
    int end = m.end();
    int before = start - 1;
    while (before >= 0 && Character.isWhitespace(metadata.charAt(before))) {
      before--;
    }
    if (before >= 0 && metadata.charAt(before) == ',') {
      start = before;
    } else {
      int after = end;
      while (after < metadata.length() && Character.isWhitespace(metadata.charAt(after))) {
        after++;
      }
      if (after < metadata.length() && metadata.charAt(after) == ',') {
        end = after + 1;
      }
    }
    return metadata.substring(0, start) + metadata.substring(end);
  }

  /** The entry this draft becomes once written. */
  LedgerEntry toEntry(
      long id, String accountId, String eventId, long balanceAfter, Instant createdAt) {
    return new LedgerEntry(
        id,
        accountId,
        eventId,
        kind,
        amount,
        balanceAfter,
        requestId,
        scene,
        model,
        usage,
        costMicros,
        priceRuleId,
        unpriced,
        estimated,
        actor,
        reason,
        metadata,
        createdAt);
  }

  /**
   * The account's state once this entry is applied to it at {@code now}.
   *
   * @throws IllegalArgumentException when the balance or a total would overflow
   */
  Account applyTo(Account account, Instant now) {
    long balance = addExact(account.balance(), amount, "balance", account);
    long granted = account.granted();
    long consumed = account.consumed();
    long refunded = account.refunded();
    switch (kind) {
      case GRANT -> granted = addExact(granted, amount, "granted total", account);
      case CHARGE -> consumed = addExact(consumed, -amount, "consumed total", account);
      case REFUND -> refunded = addExact(refunded, amount, "refunded total", account);
      default -> {}
    }
    boolean blocked =
        switch (kind) {
          case BLOCK -> true;
          case UNBLOCK -> false;
          default -> account.blocked();
        };
    return new Account(
        account.id(),
        balance,
        blocked,
        account.version() + 1,
        granted,
        consumed,
        refunded,
        account.createdAt(),
        now);
  }

  private long addExact(long value, long delta, String what, Account account) {
    try {
      return Math.addExact(value, delta);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          kind.name().toLowerCase(Locale.ROOT)
              + " of "
              + Math.abs(delta)
              + " credits would overflow the "
              + what
              + " of account '"
              + account.id()
              + "' ("
              + value
              + ")");
    }
  }

  /**
   * What differs between this draft and the entry stored under the same event id, in words, or null
   * when it is the same operation. A charge's price is not compared: the rules may have changed
   * since, and the original price stands.
   */
  String differenceFrom(EntryRow stored) {
    LedgerEntry e = stored.entry();
    List<String> differences = new ArrayList<>();
    compare(differences, "kind", e.kind(), kind);
    if (e.kind() == kind) {
      switch (kind) {
        case CHARGE -> {
          compare(differences, "requestId", e.requestId(), requestId);
          compare(differences, "scene", e.scene(), scene);
          compare(differences, "provider", stored.provider(), provider);
          compare(differences, "model", e.model(), model);
          compare(differences, "usage", e.usage(), usage);
          compare(differences, "estimated", e.estimated(), estimated);
          // The overrun is not the caller's: the ledger records what a lease did not cover.
          compare(differences, "metadata", withoutOverrun(e.metadata()), withoutOverrun(metadata));
        }
        case REFUND -> {
          compare(differences, "chargeEventId", stored.refEventId(), refEventId);
          compare(differences, "amount", e.amount(), amount);
          compare(differences, "actor", e.actor(), actor);
          compare(differences, "reason", e.reason(), reason);
        }
        default -> {
          compare(differences, "amount", e.amount(), amount);
          compare(differences, "actor", e.actor(), actor);
          compare(differences, "reason", e.reason(), reason);
        }
      }
    }
    return differences.isEmpty() ? null : String.join("; ", differences);
  }

  private static void compare(
      List<String> differences, String field, Object stored, Object requested) {
    if (!Objects.equals(stored, requested)) {
      differences.add(field + " was " + stored + ", now " + requested);
    }
  }

  private static String jsonEscape(String value) {
    StringBuilder out = new StringBuilder(value.length());
    for (char ch : value.toCharArray()) {
      if (ch == '"' || ch == '\\') {
        out.append('\\');
      }
      out.append(ch);
    }
    return out.toString();
  }
}

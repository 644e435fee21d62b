package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.ledger.AccountNotFoundException;
import dev.creditgate.ledger.CreditLedger;
import dev.creditgate.ledger.CreditPolicies;
import dev.creditgate.ledger.CreditPolicy;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.meter.CreditMode;
import dev.creditgate.meter.ShortfallPolicy;
import io.javalin.http.Context;
import java.util.Iterator;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The admin API's view of an account's own credit settings: its mode, shortfall policy and
 * overdraft, each overriding the gateway's when set ({@code GET}, {@code PUT} and {@code DELETE} on
 * {@code /accounts/{id}/credit-policy}).
 */
final class AdminCreditPolicies {

  private static final Set<String> FIELDS = Set.of("mode", "shortfall", "overdraft", "actor");

  private final CreditLedger ledger;
  private final CreditPolicies policies;
  private final LedgerCreditMeter meter;

  AdminCreditPolicies(CreditLedger ledger, CreditPolicies policies, LedgerCreditMeter meter) {
    this.ledger = ledger;
    this.policies = policies;
    this.meter = meter;
  }

  void get(Context ctx, String account) {
    ledger.account(account).orElseThrow(() -> new AccountNotFoundException(account));
    respond(ctx, account, policies.policy(account).orElse(CreditPolicy.NONE));
  }

  void put(Context ctx, String account, ObjectNode body) {
    for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!FIELDS.contains(name)) {
        throw ApiError.validation(
            "unknown field '" + name + "'; a credit policy has mode, shortfall and overdraft",
            name);
      }
    }
    CreditPolicy policy =
        new CreditPolicy(
            choice(body, "mode", CreditMode.class),
            choice(body, "shortfall", ShortfallPolicy.class),
            body.hasNonNull("overdraft")
                ? OptionalLong.of(
                    JsonFields.optionalLongIn(
                        body, "overdraft", 0, 0, dev.creditgate.ledger.LedgerChecks.MAX_AMOUNT))
                : OptionalLong.empty());
    String actor = AdminAuth.actor(ctx, body);
    respond(ctx, account, policies.setPolicy(account, policy, actor).orElse(CreditPolicy.NONE));
  }

  void delete(Context ctx, String account) {
    respond(
        ctx,
        account,
        policies
            .setPolicy(account, CreditPolicy.NONE, AdminAuth.principal(ctx).name())
            .orElse(CreditPolicy.NONE));
  }

  private void respond(Context ctx, String account, CreditPolicy own) {
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.put("object", "credit_policy");
    body.put("account_id", account);
    put(body, own);
    put(body.putObject("effective"), meter.effective(own));
    ctx.status(200).contentType("application/json").result(Json.string(body));
  }

  /** Adds the policy's fields to {@code body}: null where the gateway's setting applies. */
  static void put(ObjectNode body, CreditPolicy policy) {
    body.put("mode", policy.mode().map(AdminCreditPolicies::name).orElse(null));
    body.put("shortfall", policy.shortfall().map(AdminCreditPolicies::name).orElse(null));
    if (policy.overdraft().isPresent()) {
      body.put("overdraft", policy.overdraft().getAsLong());
    } else {
      body.putNull("overdraft");
    }
  }

  private static String name(Enum<?> value) {
    return value.name().toLowerCase(Locale.ROOT);
  }

  private static <E extends Enum<E>> Optional<E> choice(
      ObjectNode body, String field, Class<E> type) {
    String value = JsonFields.optionalString(body, field, null);
    if (value == null) {
      return Optional.empty();
    }
    for (E constant : type.getEnumConstants()) {
      if (name(constant).equals(value.toLowerCase(Locale.ROOT))) {
        return Optional.of(constant);
      }
    }
    StringBuilder names = new StringBuilder();
    for (E constant : type.getEnumConstants()) {
      names.append(names.isEmpty() ? "" : ", ").append(name(constant));
    }
    throw ApiError.validation(
        field
            + " must be one of "
            + names
            + " or null, but was '"
            + dev.creditgate.Checks.abbreviate(value, 40)
            + "'",
        field);
  }
}

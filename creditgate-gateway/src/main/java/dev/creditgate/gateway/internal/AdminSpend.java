package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.InvalidArgumentException;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.ledger.AccountNotFoundException;
import dev.creditgate.ledger.CreditLedger;
import dev.creditgate.ledger.SpendBucket;
import dev.creditgate.ledger.SpendQuery;
import dev.creditgate.ledger.SpendQuery.GroupBy;
import dev.creditgate.ledger.SpendQuery.Width;
import dev.creditgate.ledger.SpendSeries;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The admin API's spend series, read-only: credits charged (less refunds) per minute, hour or day
 * and per model or alias, of one account ({@code /accounts/{id}/spend}) or of any or all ({@code
 * /spend}). A console charts it. Bad parameters are 422 naming the parameter; an unknown or
 * repeated parameter too, so that a misspelt {@code account_id} never turns into every account's
 * series.
 */
final class AdminSpend {

  /** Under the admin API's prefix. */
  static final String SPEND = "/spend";

  static final String ACCOUNT_SPEND = "/accounts/{id}/spend";

  /** The range when the request names no {@code from}: the day before {@code to}. */
  static final Duration DEFAULT_RANGE = Duration.ofHours(24);

  static final Width DEFAULT_BUCKET = Width.HOUR;

  private static final Set<String> PARAMETERS = Set.of("from", "to", "bucket", "group_by");
  private static final Set<String> ALL_PARAMETERS =
      Set.of("account_id", "from", "to", "bucket", "group_by");

  /** The API's names of the ledger's parameters. */
  private static final Map<String, String> API_NAMES =
      Map.of("accountId", "account_id", "width", "bucket", "groupBy", "group_by");

  private final CreditLedger ledger;
  private final SpendSeries series;
  private final InstantSource clock;

  AdminSpend(CreditLedger ledger, SpendSeries series, InstantSource clock) {
    this.ledger = ledger;
    this.series = series;
    this.clock = clock;
  }

  void register(RoutesConfig routes, String prefix, UnaryOperator<Handler> guarded) {
    routes.get(prefix + SPEND, guarded.apply(this::any));
    routes.get(prefix + ACCOUNT_SPEND, guarded.apply(this::account));
  }

  private void any(Context ctx) {
    checkParameters(ctx, ALL_PARAMETERS);
    String account = param(ctx, "account_id");
    respond(ctx, account == null ? null : AdminRequests.accountId(account, "account_id"));
  }

  private void account(Context ctx) {
    String account = AdminRequests.accountId(ctx.pathParam("id"), "id");
    checkParameters(ctx, PARAMETERS);
    if (ledger.account(account).isEmpty()) {
      throw new AccountNotFoundException(account);
    }
    respond(ctx, account);
  }

  private void respond(Context ctx, String account) {
    Instant to = instant(ctx, "to", clock.instant());
    Instant dayBefore = to.minus(DEFAULT_RANGE);
    Instant from =
        instant(
            ctx, "from", dayBefore.isBefore(SpendQuery.EARLIEST) ? SpendQuery.EARLIEST : dayBefore);
    String bucket = param(ctx, "bucket");
    String groupBy = param(ctx, "group_by");
    SpendQuery query;
    try {
      query =
          new SpendQuery(
              account,
              from,
              to,
              bucket == null ? DEFAULT_BUCKET : Width.parse(bucket),
              groupBy == null ? GroupBy.MODEL : GroupBy.parse(groupBy));
    } catch (InvalidArgumentException e) {
      throw renamed(e);
    }
    List<SpendBucket> buckets = series.spend(query);
    String group = query.groupBy().lowerCaseName();
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.put("object", "spend_series");
    body.put("account_id", account);
    body.put("bucket", query.width().lowerCaseName());
    body.put("group_by", group);
    body.put("from", from.toString());
    body.put("to", to.toString());
    ArrayNode data = body.putArray("data");
    for (SpendBucket b : buckets) {
      ObjectNode o = data.addObject();
      o.put("start", b.start().toString());
      o.put(group, b.group());
      o.put("credits", b.credits());
      o.put("refunded", b.refunded());
      o.put("charges", b.charges());
      o.put("input_tokens", b.inputTokens());
      o.put("output_tokens", b.outputTokens());
    }
    ctx.status(200).contentType("application/json").result(Json.string(body));
  }

  private static void checkParameters(Context ctx, Set<String> known) {
    for (Map.Entry<String, List<String>> param : ctx.queryParamMap().entrySet()) {
      String name = param.getKey();
      if (!known.contains(name)) {
        throw ApiError.validation(
            "unknown parameter '"
                + Authenticator.abbreviate(name)
                + "'; this series takes "
                + String.join(", ", known.stream().sorted().toList()),
            Authenticator.abbreviate(name));
      }
      if (param.getValue().size() > 1) {
        throw ApiError.validation(name + " must be given at most once", name);
      }
    }
  }

  /** The ISO-8601 instant of parameter {@code name}, or {@code absent} without one. */
  private static Instant instant(Context ctx, String name, Instant absent) {
    String value = param(ctx, name);
    if (value == null) {
      return absent;
    }
    try {
      return Instant.parse(value);
    } catch (DateTimeParseException e) {
      throw ApiError.validation(
          name
              + " must be an ISO-8601 instant such as 2026-01-31T12:00:00Z, but was '"
              + Authenticator.abbreviate(value)
              + "'",
          name);
    }
  }

  /** The query parameter's value; null when it is absent or empty. */
  private static String param(Context ctx, String name) {
    String value = ctx.queryParam(name);
    return value == null || value.isEmpty() ? null : value;
  }

  /** The ledger's complaint under the API's name of the parameter. */
  private static ApiError renamed(InvalidArgumentException e) {
    String name = API_NAMES.getOrDefault(e.parameter(), e.parameter());
    String message = e.getMessage();
    if (message.startsWith(e.parameter())) {
      message = name + message.substring(e.parameter().length());
    }
    return ApiError.validation(message, name);
  }
}

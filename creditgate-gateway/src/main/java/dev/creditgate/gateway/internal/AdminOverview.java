package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.internal.MinuteCounters;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerStats;
import dev.creditgate.ledger.MeteringLedger;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * {@code GET /admin/v1/overview}: what an operator's console shows live, read from this gateway
 * process's memory at each request. The last hour of LLM calls by minute ({@link CallMinutes}:
 * received, admitted, denied by reason, failed open, failed upstream attempts, credits charged),
 * and the gauges of now: open holds, the ledger's spool and write-behind queue, and the readiness
 * of the ledger, the cache and each upstream. The counts and the holds are this process's; a
 * console in front of several gateways asks each one and adds them up.
 */
public final class AdminOverview {

  private final CallMinutes minutes;
  private final LedgerCreditMeter meter;
  private final MeteringLedger ledger;
  private final UpstreamRouter router;
  private final Supplier<ObjectNode> readiness;

  /**
   * @param readiness the shared readiness check, at most a second old (its {@code status}, {@code
   *     ledger} and {@code cache}), so that polling the overview costs the ledger and the cache
   *     nothing more than probes do
   */
  public AdminOverview(
      GatewayMetrics metrics,
      LedgerCreditMeter meter,
      MeteringLedger ledger,
      UpstreamRouter router,
      Supplier<ObjectNode> readiness) {
    this.minutes = metrics.minutes();
    this.meter = meter;
    this.ledger = ledger;
    this.router = router;
    this.readiness = readiness;
  }

  /** Registers the route, wrapped by {@code guarded} (the admin API's authorization and errors). */
  void register(RoutesConfig routes, String prefix, UnaryOperator<Handler> guarded) {
    routes.get(prefix + "/overview", guarded.apply(this::overview));
  }

  private void overview(Context ctx) {
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.put("object", "overview");
    body.put("now", minutes.clock().instant().toString());
    body.put("minute_seconds", MinuteCounters.MINUTE_MILLIS / 1000);
    ArrayNode reasons = body.putArray("deny_reasons");
    CallMinutes.DENY_REASONS.forEach(reasons::add);
    ArrayNode list = body.putArray("minutes");
    for (MinuteCounters.Minute minute : minutes.lastHour()) {
      list.add(minute(minute));
    }
    ObjectNode holds = body.putObject("open_holds");
    holds.put("count", meter.openHolds());
    holds.put("credits", meter.heldCredits());
    LedgerStats stats = ledger.stats();
    ObjectNode spool = body.putObject("spool");
    spool.put("records", stats.spoolPending());
    spool.put("bytes", stats.spoolBytes());
    spool.put("replay_lag_ms", stats.replayLag().toMillis());
    body.put("queued_charges", stats.queued());
    body.set("readiness", readiness());
    ctx.status(200).contentType("application/json").result(Json.string(body));
  }

  private static ObjectNode minute(MinuteCounters.Minute minute) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("start", minute.start().toString());
    o.put("requests", minute.count(CallMinutes.REQUESTS));
    o.put("admitted", minute.count(CallMinutes.ADMITTED));
    // Only the reasons with calls: most minutes deny none.
    ObjectNode denied = o.putObject("denied");
    List<String> reasons = CallMinutes.DENY_REASONS;
    for (int i = 0; i < reasons.size(); i++) {
      long n = CallMinutes.denied(minute, i);
      if (n != 0) {
        denied.put(reasons.get(i), n);
      }
    }
    o.put("failed_open", minute.count(CallMinutes.FAILED_OPEN));
    o.put("upstream_errors", minute.count(CallMinutes.UPSTREAM_ERRORS));
    o.put("credits_charged", CallMinutes.creditsCharged(minute));
    o.put("charges", minute.count(CallMinutes.CHARGES));
    return o;
  }

  private ObjectNode readiness() {
    ObjectNode shared = readiness.get();
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("status", shared.path("status").asText());
    o.put("ledger", shared.path("ledger").asText());
    o.put("cache", shared.path("cache").asText());
    ArrayNode aliases = o.putArray("aliases");
    Map<String, String> problems = router.problems();
    for (String alias : router.aliases()) {
      ObjectNode a = aliases.addObject();
      a.put("alias", alias);
      a.put("ready", router.ready(alias));
      a.put("problem", problems.get(alias));
      ArrayNode upstreams = a.putArray("upstreams");
      for (UpstreamRouter.UpstreamState state : router.upstreams(alias)) {
        ObjectNode u = upstreams.addObject();
        u.put("name", state.name());
        u.put("ready", state.ready());
        u.put("problem", state.problem());
        u.put("breaker", state.breaker());
      }
    }
    return o;
  }
}

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.ledger.Lease;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerCreditMeter.OpenHold;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.function.UnaryOperator;

/**
 * The admin API's view of strict-credit holds: an account's open holds in this gateway process, and
 * an operator's release of one. Holds live in the process that admitted their calls, so each
 * gateway answers for its own; when gateways lease the account's credit, the listing also shows
 * every gateway's lease (the credit each may hold against). A release writes no ledger entry, so it
 * is logged with the admin who made it.
 */
final class AdminHolds {

  private final LedgerCreditMeter meter;

  AdminHolds(LedgerCreditMeter meter) {
    this.meter = meter;
  }

  /**
   * Registers the routes, each wrapped by {@code guarded} (the admin API's authorization and
   * errors).
   */
  void register(RoutesConfig routes, String prefix, UnaryOperator<Handler> guarded) {
    routes.get(prefix + "/accounts/{id}/holds", guarded.apply(this::list));
    routes.delete(prefix + "/accounts/{id}/holds/{event_id}", guarded.apply(this::release));
  }

  private void list(Context ctx) {
    String account = AdminRequests.accountId(ctx.pathParam("id"), "id");
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.put("object", "list");
    body.put("held", meter.heldCredits(account));
    ArrayNode data = body.putArray("data");
    for (OpenHold hold : meter.holds(account)) {
      data.add(hold(hold));
    }
    if (meter.leasesCredit()) {
      // Every gateway's slice of the account's credit: its holds are placed against it.
      ArrayNode leases = body.putArray("leases");
      long leased = 0;
      for (Lease lease : meter.leases(account)) {
        ObjectNode o = leases.addObject();
        o.put("object", "lease");
        o.put("holder", lease.holder());
        o.put("credits", lease.credits());
        o.put("expires_at", lease.expiresAt().toString());
        leased += lease.credits();
      }
      body.put("leased", leased);
    }
    ctx.status(200).contentType("application/json").result(Json.string(body));
  }

  private void release(Context ctx) {
    String account = AdminRequests.accountId(ctx.pathParam("id"), "id");
    String eventId = ctx.pathParam("event_id");
    if (!meter.releaseHold(account, eventId)) {
      throw new ApiError(
          404,
          "invalid_request_error",
          "hold_not_found",
          "no hold of event '"
              + Authenticator.abbreviate(eventId)
              + "' is open for account '"
              + account
              + "' in this gateway",
          "event_id");
    }
    // The event id matched an open hold's, so it is one the ledger's checks let through.
    AdminAuth.audit(ctx, "released the hold of event " + eventId + " on account " + account);
    ObjectNode body = Json.MAPPER.createObjectNode();
    body.put("object", "hold");
    body.put("account_id", account);
    body.put("event_id", eventId);
    body.put("released", true);
    ctx.status(200).contentType("application/json").result(Json.string(body));
  }

  static ObjectNode hold(OpenHold hold) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("object", "hold");
    o.put("account_id", hold.accountId());
    o.put("event_id", hold.eventId());
    o.put("credits", hold.credits());
    o.put("deadline", hold.deadline().toString());
    o.put("instance", hold.instance());
    return o;
  }
}

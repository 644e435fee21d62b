package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import io.javalin.http.Context;

/**
 * Settles a served call: at the usage the upstream reported, or, when it reported none, at the
 * usage counted from the request and the text relayed (marked estimated). Tells the client what it
 * was charged in response headers.
 */
final class SettleUsage {

  static final String CHARGED_HEADER = "X-Creditgate-Charged";
  static final String BALANCE_HEADER = "X-Creditgate-Balance";
  static final String ESTIMATED_HEADER = "X-Creditgate-Estimated";

  /** The usage field that carries the credits charged, in a cut-off stream's last chunk. */
  static final String CHARGED_FIELD = "creditgate_charged_credits";

  private final TokenEstimator estimator;

  SettleUsage(TokenEstimator estimator) {
    this.estimator = estimator;
  }

  Settlement reported(MeteredCall call, Usage usage) {
    return call.settle(usage, UsageSource.REPORTED);
  }

  /** Settles at the usage counted from the request's messages and the completion text relayed. */
  Settlement estimated(
      MeteredCall call, JsonNode request, String completion, long completionCharsDropped) {
    return call.settle(
        estimator.estimate(request, completion, completionCharsDropped), UsageSource.ESTIMATED);
  }

  /**
   * Settles a stream the gateway cut off at its hold: the output its hold pays for (the upstream
   * sent more), the input counted from the request.
   */
  Settlement cutOff(MeteredCall call, JsonNode request) {
    Usage counted = estimator.estimate(request, "", 0);
    return call.settle(
        new Usage(counted.inputTokens(), call.outputBudget(), 0, 0), UsageSource.ESTIMATED);
  }

  /**
   * The charge's headers on a plain answer (a call not settled was charged 0); nothing for a call
   * that is not metered.
   */
  static void headers(Context ctx, MeteredCall call, Settlement settled) {
    if (!call.metered()) {
      return;
    }
    if (settled == null) {
      ctx.header(CHARGED_HEADER, "0");
      return;
    }
    ctx.header(CHARGED_HEADER, Long.toString(settled.credits()));
    call.remaining().ifPresent(left -> ctx.header(AdmitCall.REMAINING_HEADER, Long.toString(left)));
    settled.balanceAfter().ifPresent(balance -> ctx.header(BALANCE_HEADER, Long.toString(balance)));
    if (settled.estimated()) {
      ctx.header(ESTIMATED_HEADER, "true");
    }
  }
}

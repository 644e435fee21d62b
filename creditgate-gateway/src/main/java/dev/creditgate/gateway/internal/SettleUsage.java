package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import io.javalin.http.Context;
import java.util.OptionalLong;

/**
 * Settles a served call: at the usage the upstream reported, or, when it reported none, at the
 * usage counted from the request and the text relayed (marked estimated). Tells the client what it
 * was charged in response headers.
 */
final class SettleUsage {

  static final String CHARGED_HEADER = "X-Creditgate-Charged";
  static final String BALANCE_HEADER = "X-Creditgate-Balance";
  static final String ESTIMATED_HEADER = "X-Creditgate-Estimated";

  /**
   * The field of an answer's {@code usage} that carries the credits charged (see {@link
   * ChargedUsage}).
   */
  static final String CHARGED_FIELD = "creditgate_charged_credits";

  private final TokenEstimator estimator;

  SettleUsage(TokenEstimator estimator) {
    this.estimator = estimator;
  }

  Settlement reported(MeteredCall call, Usage usage) {
    return call.settle(usage, UsageSource.REPORTED);
  }

  /** The usage counted from the request's messages and the completion text relayed. */
  Usage estimate(JsonNode request, String completion, long completionCharsDropped) {
    return estimator.estimate(request, completion, completionCharsDropped);
  }

  /** Settles at an {@link #estimate}. */
  Settlement estimated(MeteredCall call, Usage estimate) {
    return call.settle(estimate, UsageSource.ESTIMATED);
  }

  /**
   * What a stream the gateway cut off at its hold is charged, at an {@link #estimated} settlement:
   * the output its hold pays for (the upstream sent more), the input counted from the request.
   */
  Usage cutOffUsage(MeteredCall call, JsonNode request) {
    Usage counted = estimator.estimate(request, "", 0);
    return new Usage(counted.inputTokens(), call.outputBudget(), 0, 0);
  }

  /**
   * The charge's headers on a plain answer (a call not settled was charged 0); nothing for a call
   * that is not metered.
   */
  static void headers(Context ctx, MeteredCall call, Settlement settled) {
    OptionalLong credits = charged(call, settled);
    if (credits.isEmpty()) {
      return;
    }
    ctx.header(CHARGED_HEADER, Long.toString(credits.getAsLong()));
    if (settled == null) {
      return;
    }
    call.remaining().ifPresent(left -> ctx.header(AdmitCall.REMAINING_HEADER, Long.toString(left)));
    settled.balanceAfter().ifPresent(balance -> ctx.header(BALANCE_HEADER, Long.toString(balance)));
    if (settled.estimated()) {
      ctx.header(ESTIMATED_HEADER, "true");
    }
  }

  /**
   * What the client is told it was charged: the settlement's credits, 0 for a metered call that was
   * not settled (nothing to charge), nothing for a call that is not metered.
   */
  static OptionalLong charged(MeteredCall call, Settlement settled) {
    if (!call.metered()) {
      return OptionalLong.empty();
    }
    return OptionalLong.of(settled == null ? 0 : settled.credits());
  }
}

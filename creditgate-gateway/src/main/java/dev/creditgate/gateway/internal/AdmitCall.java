package dev.creditgate.gateway.internal;

import dev.creditgate.Admission;
import dev.creditgate.CreditBalanceBlockedException;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.meter.CreditMeter;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.IdempotencyKeyReusedException;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.pricing.Usage;

/**
 * Opens the call's metering: the meter claims the call's event id and decides admission. A reused
 * Idempotency-Key is refused with 409, a denied account with 402; an admitted call proceeds, and
 * its metering is closed once the rest of the chain returns, whatever happened there.
 */
final class AdmitCall implements ChatStep {

  /** The output tokens an estimate counts at most when the request's own cap is larger. */
  static final long MAX_ESTIMATED_OUTPUT_TOKENS = 100_000;

  private final CreditMeter meter;

  AdmitCall(CreditMeter meter) {
    this.meter = meter;
  }

  @Override
  public void process(ChatExchange x, Chain next) {
    MeteredCall call;
    try {
      call = meter.open(x.billing, estimate(x));
    } catch (IdempotencyKeyReusedException e) {
      throw new ApiError(
          409,
          "invalid_request_error",
          "idempotency_key_reused",
          "Idempotency-Key '"
              + Authenticator.abbreviate(e.eventId())
              + "' cannot be used again: "
              + (e.inProgress()
                  ? "a request with this key is in progress"
                  : "it was already used for a completed, charged request"),
          ReadChatRequest.IDEMPOTENCY_HEADER);
    }
    try (call) {
      Admission admission = call.admission();
      if (admission.reason() == Admission.Reason.DENIED_UNKNOWN_ACCOUNT) {
        throw new ApiError(
            402,
            "insufficient_credits",
            "account_not_found",
            "account '" + x.billing.accountId() + "' does not exist");
      }
      if (admission.isDenied()) {
        throw new ApiError(
            402,
            "insufficient_credits",
            "credit_balance_blocked",
            CreditBalanceBlockedException.MESSAGE);
      }
      x.call = call;
      next.proceed(x);
    }
  }

  /**
   * A rough upper estimate of the call's usage, recorded with it should its real usage be lost: a
   * token per four bytes of the request, plus its output cap (at most {@link
   * #MAX_ESTIMATED_OUTPUT_TOKENS}).
   */
  static Estimate estimate(ChatExchange x) {
    long cap =
        Math.max(
            x.request.path("max_completion_tokens").asLong(0),
            x.request.path("max_tokens").asLong(0));
    Usage usage =
        new Usage(
            (x.requestBytes + 3L) / 4,
            Math.min(Math.max(0, cap), MAX_ESTIMATED_OUTPUT_TOKENS),
            0,
            0);
    return new Estimate(x.route.config().provider(), x.route.config().model(), usage);
  }
}

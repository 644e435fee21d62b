package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.Admission;
import dev.creditgate.CreditBalanceBlockedException;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.internal.TokenEstimator.Tokenizer;
import dev.creditgate.meter.CreditMeter;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.IdempotencyKeyReusedException;
import dev.creditgate.meter.MeteredCall;
import java.util.Locale;

/**
 * Takes the call's slot under its key's and its account's concurrency limits ({@link CallSlots}: a
 * call past either is refused with 429 before anything else), then opens the call's metering:
 * counts the most the call can use (its input with the route's tokenizer, its output cap times its
 * choices; a request without a cap gets the route's, sent to the upstream so that the provider
 * enforces it), and has the meter claim the call's event id and admit it. A reused Idempotency-Key
 * is refused with 409, a call the account's credit does not cover with 402; when the meter lowered
 * the output cap to what the credit affords, the request carries the lower cap. An admitted call
 * proceeds, and its metering is closed once the rest of the chain returns, whatever happened there;
 * the slot is given back just after.
 */
final class AdmitCall implements CallStep {

  static final String RESERVED_HEADER = "X-Creditgate-Reserved";
  static final String REMAINING_HEADER = "X-Creditgate-Remaining";
  static final String CLAMPED_HEADER = "X-Creditgate-Clamped-Max-Tokens";

  private final CreditMeter meter;
  private final TokenEstimator tokens;
  private final CallSlots slots;
  private final GatewayMetrics metrics;
  private final long storedInputTokens;

  AdmitCall(
      CreditMeter meter,
      TokenEstimator tokens,
      CallSlots slots,
      GatewayMetrics metrics,
      long storedInputTokens) {
    this.meter = meter;
    this.tokens = tokens;
    this.slots = slots;
    this.metrics = metrics;
    this.storedInputTokens = storedInputTokens;
  }

  @Override
  public void process(CallExchange x, Chain next) {
    // Given back however the rest ends: answered, streamed, the client gone, an upstream error, or
    // an exception.
    try (CallSlots.Slot slot = slots.acquire(x.principal)) {
      admit(x, next);
    }
  }

  private void admit(CallExchange x, Chain next) {
    try (MeteredCall call = open(x)) {
      next.proceed(x);
    }
  }

  /**
   * Opens the metering of the call on its current upstream ({@code x.route}): counts its worst case
   * on that upstream's price, has the meter admit it, and sets {@code x.call}, {@code x.estimate}
   * and the credit headers. The caller closes the call.
   *
   * @throws ApiError 409 for a reused Idempotency-Key, 402 or 503 for a call not admitted
   */
  MeteredCall open(CallExchange x) {
    boolean again = x.call != null;
    if (again) {
      // Admitted again on another upstream: what the first admission wrote is undone, the output
      // cap it wrote in that upstream's field among it.
      if (x.defaultCapWritten) {
        x.api.clearOutputCap(x.request);
        x.defaultCapWritten = false;
      }
      x.ctx.res().setHeader(CLAMPED_HEADER, null);
      x.ctx.res().setHeader(RESERVED_HEADER, null);
      x.ctx.res().setHeader(REMAINING_HEADER, null);
    }
    Estimate estimate = estimate(x);
    MeteredCall call;
    try {
      call = meter.open(x.billing, estimate);
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
          ReadRequest.IDEMPOTENCY_HEADER);
    }
    if (!again) {
      // Counted once per call: an admission again on another upstream is the same call's.
      metrics.callAdmission(call.admission());
    }
    try {
      refuseUnlessAdmitted(x, call, estimate);
      x.estimate = estimate;
      call.clampedOutputTokens()
          .ifPresent(
              cap -> {
                x.api.setOutputCap(x.request, cap, x.route.config());
                x.estimate = estimate.withMaxOutputTokens(cap);
                x.ctx.header(CLAMPED_HEADER, Long.toString(cap));
              });
      if (call.reserved() > 0) {
        x.ctx.header(RESERVED_HEADER, Long.toString(call.reserved()));
      }
      call.remaining().ifPresent(left -> x.ctx.header(REMAINING_HEADER, Long.toString(left)));
      x.call = call;
      return call;
    } catch (RuntimeException e) {
      call.close();
      throw e;
    }
  }

  private static void refuseUnlessAdmitted(CallExchange x, MeteredCall call, Estimate estimate) {
    Admission admission = call.admission();
    if (admission.isAdmitted()) {
      return;
    }
    switch (admission.reason()) {
      case DENIED_UNKNOWN_ACCOUNT ->
          throw new ApiError(
              402,
              "insufficient_credits",
              "account_not_found",
              "account '" + x.billing.accountId() + "' does not exist");
      case DENIED_INSUFFICIENT_CREDIT ->
          throw new ApiError(
              402,
              "insufficient_credits",
              "insufficient_credits",
              x.api.producesOutput()
                  ? "this request can cost more credits than the account has left: it asks for"
                      + " up to "
                      + estimate.maxOutputTokens()
                      + " output tokens"
                      + (estimate.choices() > 1
                          ? " per choice (" + estimate.choices() + " choices)"
                          : "")
                      + ", and the balance affords "
                      + Math.max(0, call.affordableOutputTokens())
                      + "; lower "
                      + x.api.outputCapField()
                      + " or add credits"
                  : "this request's input ("
                      + estimate.inputTokens()
                      + " tokens) costs more credits than the account has left; add credits");
      case DENIED_UNPRICED ->
          throw new ApiError(
              402,
              "insufficient_credits",
              "unpriced",
              "no price rule prices model '"
                  + x.alias()
                  + "' for this request, so its cost has no bound; it was not sent");
      case DENIED_UNAVAILABLE ->
          throw new ApiError(
              503,
              "server_error",
              "credit_unavailable",
              "the account's credit cannot be read right now; try again");
      default ->
          throw new ApiError(
              402,
              "insufficient_credits",
              "credit_balance_blocked",
              CreditBalanceBlockedException.MESSAGE);
    }
  }

  /**
   * The most the call can use: its input counted with the route's tokenizer, and its output cap
   * (the request's {@code max_completion_tokens} or {@code max_tokens}, else the route's, which is
   * then written into the request) for each of its {@code n} choices.
   */
  Estimate estimate(CallExchange x) {
    ModelRoute route = x.route.config();
    ObjectNode request = x.request;
    LlmApi api = x.api;
    long cap = 0;
    if (api.producesOutput()) {
      cap = api.outputCap(request);
      if (cap <= 0) {
        cap = route.maxOutputTokens();
        api.setOutputCap(request, cap, route);
        x.defaultCapWritten = true;
      }
    }
    Tokenizer tokenizer = Tokenizer.valueOf(route.tokenizer().toUpperCase(Locale.ROOT));
    long input = api.inputTokens(tokens, request, tokenizer, x.requestBytes);
    if (api.addsStoredInput(request)) {
      // Turns the provider adds from its storage are not in the request: held at their bound.
      input = Math.max(input, storedInputTokens);
    }
    return new Estimate(route.provider(), route.model(), input, cap, api.choices(request));
  }
}

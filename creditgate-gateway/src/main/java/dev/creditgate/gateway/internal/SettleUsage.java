package dev.creditgate.gateway.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.internal.ThrottledLog;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import io.javalin.http.Context;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settles a served call: at the usage the upstream reported when it is whole and plausible, else at
 * the gateway's own count (marked estimated). Tells the client what it was charged in response
 * headers.
 *
 * <p>A reported usage is believed only within bounds: its output at most the call's output cap
 * times its choices plus {@link #SLACK_TOKENS_PER_CHOICE} a choice, no count above {@link
 * #MAX_PLAUSIBLE_TOKENS}, and its output at least the pieces of output relayed (a provider spends a
 * token per piece at least). Usage that is missing or unreadable is replaced by the estimate
 * counted from the request and the output relayed; usage below what was relayed by the larger of
 * each count; usage above the bounds by the call's worst case, what its strict hold pays for. A
 * call whose answer never came or could not be read is charged that worst case too ({@link
 * #unanswered}).
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

  /** Output tokens a choice may report beyond the cap it was sent (providers round a little). */
  static final long SLACK_TOKENS_PER_CHOICE = 16;

  /** No token count above this is believed: ten times the largest context windows offered. */
  static final long MAX_PLAUSIBLE_TOKENS = 100_000_000;

  private static final Logger LOG = LoggerFactory.getLogger(SettleUsage.class);

  /**
   * What a call was charged: the usage, the meter's settlement, and whether the usage is the one
   * the upstream reported.
   */
  record Charge(Usage usage, Settlement settled, boolean reported) {
    static final Charge NONE = new Charge(null, null, false);
  }

  private final TokenEstimator estimator;
  private final GatewayMetrics metrics;
  private final Ticker ticker;
  private final ThrottledLog suspicious = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  SettleUsage(TokenEstimator estimator, GatewayMetrics metrics, Ticker ticker) {
    this.estimator = estimator;
    this.metrics = metrics;
    this.ticker = ticker;
  }

  /**
   * Settles a call its upstream served.
   *
   * @param report what the answer said of its usage
   * @param outputPieces the pieces of output relayed (non-empty texts, every choice counted)
   * @param estimate the usage counted from the request and the output relayed
   */
  Charge served(
      CallExchange x, UsageParser.Report report, long outputPieces, Supplier<Usage> estimate) {
    switch (report.kind()) {
      case ABSENT -> {
        return estimated(x, atLeast(estimate.get(), outputPieces), "absent");
      }
      case MALFORMED -> {
        fallback(x, "malformed", report.problem());
        return estimated(x, atLeast(estimate.get(), outputPieces), "malformed");
      }
      default -> {
        Usage usage = report.usage();
        long most = mostOutput(x.estimate);
        if (usage.outputTokens() > most || usage.inputTokens() > MAX_PLAUSIBLE_TOKENS) {
          fallback(
              x,
              "too_high",
              "it reports " + usage + ", above the call's output cap (" + most + " at most)");
          return estimated(x, worstCase(x, usage), "too_high");
        }
        if (usage.outputTokens() < outputPieces) {
          fallback(
              x,
              "too_low",
              "it reports "
                  + usage.outputTokens()
                  + " output tokens for "
                  + outputPieces
                  + " pieces of output relayed");
          return estimated(x, usage.max(atLeast(estimate.get(), outputPieces)), "too_low");
        }
        return charged(x, usage, () -> x.call.settle(usage, UsageSource.REPORTED), true);
      }
    }
  }

  /**
   * Settles a call whose upstream started on it and whose answer the gateway could not read to its
   * usage (larger than it reads, stalled, or not begun within the first-byte timeout): at its worst
   * case, since the provider may have billed all of it; then sets the charge's headers.
   */
  Charge unanswered(CallExchange x, String why) {
    fallback(x, "unanswered", why);
    Charge charge = estimated(x, worstCase(x, null), "unanswered");
    headers(x.ctx, x.call, charge.settled());
    return charge;
  }

  /** The usage counted from the call's request and the output relayed. */
  Usage estimate(CallExchange x, String output, long outputCharsDropped) {
    return x.api.estimate(estimator, x.request, output, outputCharsDropped);
  }

  /**
   * What a stream the gateway cut off at its hold is charged, at an estimated settlement: the
   * output its hold pays for (the upstream sent more), the input counted from the request.
   */
  Charge cutOff(CallExchange x) {
    Usage counted = estimate(x, "", 0);
    return estimated(x, new Usage(counted.inputTokens(), x.call.outputBudget(), 0, 0), "cut_off");
  }

  /** Settles at the gateway's count; the charge's entry says why ({@code usage_fallback}). */
  private Charge estimated(CallExchange x, Usage usage, String reason) {
    return charged(x, usage, () -> x.call.settle(usage, UsageSource.ESTIMATED, reason), false);
  }

  /** Settles the call at {@code usage}, noting on the exchange what and when for its telemetry. */
  private Charge charged(
      CallExchange x, Usage usage, Supplier<Settlement> settle, boolean reported) {
    x.usage = usage;
    x.settleStart = ticker.read();
    Settlement settled;
    try {
      settled = settle.get();
    } finally {
      x.settleEnd = ticker.read();
    }
    if (settled != null && x.call.metered()) {
      x.chargedCredits = settled.credits();
    }
    return new Charge(usage, settled, reported);
  }

  private void fallback(CallExchange x, String reason, String detail) {
    metrics.usageFallback(x.alias(), reason);
    suspicious.warn(
        ticker.read(),
        "upstream usage not used ({}: {}); charged the gateway's count, model={} request_id={}",
        reason,
        detail,
        x.alias(),
        x.logRef());
  }

  /** The most output a call may report: its cap for every choice, plus the slack. */
  static long mostOutput(Estimate estimate) {
    if (estimate == null) {
      return MAX_PLAUSIBLE_TOKENS;
    }
    long slack = SLACK_TOKENS_PER_CHOICE * estimate.choices();
    return Math.min(MAX_PLAUSIBLE_TOKENS, estimate.totalOutputTokens() + slack);
  }

  /**
   * The most the call could have used: its output cap for every choice, and its input as counted at
   * admission, or as reported when that is larger and believable.
   */
  private Usage worstCase(CallExchange x, Usage reported) {
    Estimate e = x.estimate;
    if (e == null) {
      Usage counted = estimate(x, "", 0);
      return new Usage(counted.inputTokens(), x.call.outputBudget(), 0, 0);
    }
    long input = e.inputTokens();
    if (reported != null && reported.inputTokens() <= MAX_PLAUSIBLE_TOKENS) {
      input = Math.max(input, reported.inputTokens());
    }
    return new Usage(input, e.totalOutputTokens(), 0, 0);
  }

  /** {@code usage} with at least {@code outputTokens} of output. */
  private static Usage atLeast(Usage usage, long outputTokens) {
    if (usage.outputTokens() >= outputTokens) {
      return usage;
    }
    return new Usage(
        usage.inputTokens(), outputTokens, usage.cachedTokens(), usage.reasoningTokens());
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

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.meter.Settlement;
import io.javalin.http.Context;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last step of a non-streaming call: reads the upstream's whole answer (bounded), settles the
 * call at the usage it reports when that is whole and plausible (else, for a successful answer, at
 * the gateway's estimate; {@link SettleUsage#served}), and writes the answer with the charge in its
 * headers and in its {@code usage} ({@link ChargedUsage}). An upstream error is relayed with its
 * status, as it came, and charged only when it reports usage.
 */
final class PlainAnswer implements CallStep {

  private static final Logger LOG = LoggerFactory.getLogger(PlainAnswer.class);

  private final SettleUsage settle;
  private final GatewayMetrics metrics;
  private final Ticker ticker;

  /** Upstream answers larger than this are refused rather than held in memory. */
  private final long maxAnswerBytes;

  PlainAnswer(SettleUsage settle, GatewayMetrics metrics, Ticker ticker, long maxAnswerBytes) {
    this.settle = settle;
    this.metrics = metrics;
    this.ticker = ticker;
    this.maxAnswerBytes = maxAnswerBytes;
  }

  @Override
  public void process(CallExchange x, Chain next) {
    int status = x.upstream.status();
    boolean ok = status / 100 == 2;
    byte[] answer;
    try {
      answer = Bodies.readAll(x.upstream.body(), maxAnswerBytes, x.upstream.contentLength());
    } catch (Bodies.TooLargeException e) {
      String what = "the upstream answer is larger than " + maxAnswerBytes + " bytes";
      throw new ApiError(502, "server_error", "upstream_bad_response", what + charged(x, ok, what));
    } catch (IOException e) {
      String what = "the upstream stopped sending before the response was complete";
      throw new ApiError(504, "server_error", "upstream_timeout", what + charged(x, ok, what));
    }
    metrics.upstreamLatency(x.alias(), "total", ticker.read() - x.upstreamStart);
    JsonNode parsed = Json.parseOrNull(answer);
    UsageParser.Report report = parsed == null ? UsageParser.Report.ABSENT : x.api.usage(parsed);
    SettleUsage.Charge charge = SettleUsage.Charge.NONE;
    if (ok && parsed != null) {
      List<String> output = x.api.outputTexts(parsed);
      charge =
          settle.served(
              x, report, output.size(), () -> settle.estimate(x, String.join("", output), 0));
    } else if (report.kind() == UsageParser.Report.Kind.VALID) {
      // An error that reports usage was billed for it.
      charge = settle.served(x, report, 0, () -> report.usage());
    }
    Settlement settled = charge.settled();
    SettleUsage.headers(x.ctx, x.call, settled);
    if (ok && parsed != null) {
      x.status = status;
      x.ctx.status(status).contentType("application/json");
      writeBody(
          x.ctx,
          x.api.withCharge(
              answer,
              parsed,
              charge.usage(),
              charge.reported(),
              SettleUsage.charged(x.call, settled)));
      return;
    }
    if (ok) {
      throw new ApiError(
          502,
          "server_error",
          "upstream_bad_response",
          "the upstream answered with a body that is not JSON");
    }
    x.status = UpstreamErrors.relay(x, status, parsed, answer);
  }

  /**
   * Charges a successful answer the gateway could not read at its worst case (the provider served
   * it, and may have billed all of it), and says so for the error's message; an error status served
   * nothing and is not charged.
   */
  private String charged(CallExchange x, boolean ok, String why) {
    if (!ok) {
      return "";
    }
    settle.unanswered(x, why);
    return UNREAD;
  }

  /** What the error of an answer charged unread says. */
  static final String UNREAD =
      "; the call was charged as if it used its whole output cap, since the provider may have"
          + " billed it";

  /**
   * Writes an answer straight to the client: {@code ctx.result(bytes)} would have Javalin copy it
   * through an 8 KiB buffer of its own per response. Only for answers the gateway's error pages
   * never touch (a 2xx); a client that left is not an error here, the call was served and charged.
   */
  private static void writeBody(Context ctx, byte[] body) {
    var res = ctx.res();
    res.setContentLength(body.length);
    try {
      res.getOutputStream().write(body);
    } catch (IOException e) {
      LOG.debug("the client left before its answer was written: {}", e.toString());
    }
  }
}

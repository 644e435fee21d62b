package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.meter.Settlement;
import dev.creditgate.pricing.Usage;
import io.javalin.http.Context;
import java.io.IOException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last step of a non-streaming call: reads the upstream's whole answer (bounded), settles the
 * call at the usage it reports (or, for a successful answer without usage, at an estimate), and
 * writes the answer with the charge in its headers and in its {@code usage} ({@link ChargedUsage}).
 * An upstream error is relayed with its status, as it came.
 */
final class PlainAnswer implements ChatStep {

  /** Non-streaming upstream bodies larger than this are refused rather than held in memory. */
  static final int MAX_UPSTREAM_BODY_BYTES = 64 * 1024 * 1024;

  private static final Logger LOG = LoggerFactory.getLogger(PlainAnswer.class);

  private final SettleUsage settle;
  private final GatewayMetrics metrics;
  private final Ticker ticker;

  PlainAnswer(SettleUsage settle, GatewayMetrics metrics, Ticker ticker) {
    this.settle = settle;
    this.metrics = metrics;
    this.ticker = ticker;
  }

  @Override
  public void process(ChatExchange x, Chain next) {
    int status = x.upstream.status();
    byte[] answer;
    try {
      answer =
          Bodies.readAll(x.upstream.body(), MAX_UPSTREAM_BODY_BYTES, x.upstream.contentLength());
    } catch (Bodies.TooLargeException e) {
      throw new ApiError(
          502,
          "server_error",
          "upstream_bad_response",
          "the upstream answer is larger than " + MAX_UPSTREAM_BODY_BYTES / (1024 * 1024) + " MiB");
    } catch (IOException e) {
      throw new ApiError(
          504,
          "server_error",
          "upstream_timeout",
          "the upstream stopped sending before the response was complete");
    }
    metrics.upstreamLatency(x.alias(), "total", ticker.read() - x.upstreamStart);
    JsonNode parsed = Json.parseOrNull(answer);
    Optional<Usage> usage = UsageParser.from(parsed);
    boolean ok = status / 100 == 2;
    Usage charged = usage.orElse(null);
    Settlement settled = null;
    if (usage.isPresent()) {
      settled = settle.reported(x.call, charged);
    } else if (ok && parsed != null) {
      charged = settle.estimate(x.request, completionText(parsed), 0);
      settled = settle.estimated(x.call, charged);
    }
    SettleUsage.headers(x.ctx, x.call, settled);
    if (ok && parsed != null) {
      x.status = status;
      x.ctx.status(status).contentType("application/json");
      writeBody(
          x.ctx, ChargedUsage.plain(answer, parsed, charged, SettleUsage.charged(x.call, settled)));
      return;
    }
    if (ok) {
      throw new ApiError(
          502,
          "server_error",
          "upstream_bad_response",
          "the upstream answered with a body that is not JSON");
    }
    x.status = UpstreamErrors.relay(x.ctx, status, parsed, answer);
  }

  private static String completionText(JsonNode completion) {
    StringBuilder sb = new StringBuilder();
    for (JsonNode choice : completion.path("choices")) {
      JsonNode content = choice.path("message").path("content");
      if (content.isTextual()) {
        sb.append(content.asText());
      }
    }
    return sb.toString();
  }

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

package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.internal.UpstreamRouter.Route;
import dev.creditgate.internal.ThrottledLog;
import java.io.IOException;
import java.net.ConnectException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls the route's upstream with the request, its alias replaced by the provider's model, and what
 * its API needs to be charged (for a chat stream, usage asked for in the last chunk). Once the
 * upstream has answered, the metered call is made durable before a byte is relayed; the answer
 * stays open for the steps after, and is closed when they return. A call whose connection or
 * request failed is refused with 502 and charged nothing; one the upstream took and did not answer
 * within the first-byte timeout is refused with 504 and charged its worst case ({@link
 * SettleUsage#unanswered}): the provider may be generating it, and bill it, all the same.
 */
final class CallUpstream implements CallStep {

  private static final Logger LOG = LoggerFactory.getLogger(CallUpstream.class);

  private final UpstreamClient upstream;
  private final SettleUsage settle;
  private final GatewayMetrics metrics;
  private final Ticker ticker;
  private final ThrottledLog upstreamLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  CallUpstream(UpstreamClient upstream, SettleUsage settle, GatewayMetrics metrics, Ticker ticker) {
    this.upstream = upstream;
    this.settle = settle;
    this.metrics = metrics;
    this.ticker = ticker;
  }

  @Override
  public void process(CallExchange x, Chain next) {
    byte[] body = upstreamBody(x);
    x.upstreamStart = ticker.read();
    x.upstreamCalled = true;
    try (UpstreamClient.Exchange response = send(x, body)) {
      metrics.upstreamLatency(x.alias(), "first_byte", ticker.read() - x.upstreamStart);
      x.call.beforeRelay();
      x.upstream = response;
      next.proceed(x);
    } finally {
      x.upstream = null;
    }
  }

  private static byte[] upstreamBody(CallExchange x) {
    ObjectNode request = x.request;
    request.put("model", x.route.config().model());
    x.api.prepareUpstream(request, x.stream);
    try {
      return Json.MAPPER.writeValueAsBytes(request);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise the upstream request", e);
    }
  }

  private UpstreamClient.Exchange send(CallExchange x, byte[] body) {
    Route route = x.route;
    String alias = route.config().alias();
    try {
      return upstream.send(
          route.uri(x.api),
          x.api.upstreamHeaders(route.apiKey(), name -> x.ctx.header(name)),
          body);
    } catch (UpstreamClient.FirstByteTimeoutException e) {
      settle.unanswered(x, e.getMessage());
      throw new ApiError(
          504, "server_error", "upstream_timeout", e.getMessage() + PlainAnswer.UNREAD);
    } catch (ConnectException e) {
      throw new ApiError(
          502,
          "server_error",
          "upstream_unavailable",
          "cannot connect to the upstream for model '" + alias + "'");
    } catch (IOException e) {
      upstreamLog.warn(
          ticker.read(), "upstream call for model '{}' failed: {}", alias, e.getMessage());
      throw new ApiError(
          502,
          "server_error",
          "upstream_unavailable",
          "the upstream call for model '" + alias + "' failed");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiError(503, "server_error", "shutting_down", "the gateway is shutting down");
    }
  }
}

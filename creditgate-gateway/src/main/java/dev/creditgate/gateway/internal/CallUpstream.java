package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.internal.UpstreamRouter.Route;
import dev.creditgate.internal.ThrottledLog;
import dev.creditgate.meter.MeteredCall;
import java.io.IOException;
import java.net.ConnectException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls the upstream with the request, its alias replaced by the provider's model, and what its API
 * needs to be charged (for a chat stream, usage asked for in the last chunk). Once an upstream has
 * answered, the metered call is made durable before a byte is relayed; the answer stays open for
 * the steps after, and is closed when they return.
 *
 * <p>An alias with several upstreams moves on to the next ({@link UpstreamRouter#attempts}) when
 * one fails before answering: the connection fails, no headers come within the first-byte timeout,
 * or it answers 429 or 5xx. The failed attempt is abandoned, not charged, and the call is admitted
 * again on the next upstream's price ({@link AdmitCall#open}); at most {@code
 * upstream.max-attempts} upstreams are tried, none after {@code upstream.fallback-deadline}, and
 * none whose circuit breaker is open. Nothing has been relayed at that point, so a stream is never
 * moved once it has begun.
 *
 * <p>The last attempt's failure is the call's: a connection or request that failed is refused with
 * 502 and charged nothing; an upstream that took the call and did not answer within the first-byte
 * timeout is refused with 504 and charged its worst case ({@link SettleUsage#unanswered}), since
 * the provider may be generating it, and bill it, all the same; an error answer is relayed.
 */
final class CallUpstream implements CallStep {

  private static final Logger LOG = LoggerFactory.getLogger(CallUpstream.class);

  private final UpstreamClient upstream;
  private final UpstreamRouter router;
  private final AdmitCall admit;
  private final SettleUsage settle;
  private final GatewayMetrics metrics;
  private final Ticker ticker;
  private final ThrottledLog upstreamLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  CallUpstream(
      UpstreamClient upstream,
      UpstreamRouter router,
      AdmitCall admit,
      SettleUsage settle,
      GatewayMetrics metrics,
      Ticker ticker) {
    this.upstream = upstream;
    this.router = router;
    this.admit = admit;
    this.settle = settle;
    this.metrics = metrics;
    this.ticker = ticker;
  }

  /** An attempt's failure that the call may move on from. */
  private static final class Failed extends Exception {

    private static final long serialVersionUID = 1L;

    /** What the client gets should no other upstream answer. */
    final transient ApiError error;

    /** Whether the upstream took the call and did not answer within the first-byte timeout. */
    final boolean unanswered;

    Failed(ApiError error, boolean unanswered) {
      super(error.getMessage(), null, false, false);
      this.error = error;
      this.unanswered = unanswered;
    }
  }

  @Override
  public void process(CallExchange x, Chain next) {
    long began = ticker.read();
    int maxAttempts = router == null ? 1 : router.fallback().maxAttempts();
    long deadline = router == null ? 0 : began + router.fallback().deadline().toNanos();
    List<Route> attempts = x.attempts != null ? x.attempts : List.of(x.route);
    MeteredCall reopened = null;
    Failed lastFailure = null;
    Route admitted = x.route;
    int tried = 0;
    try {
      for (int i = 0; i < attempts.size() && tried < maxAttempts; i++) {
        Route route = attempts.get(i);
        if (tried > 0 && ticker.read() - deadline > 0) {
          break;
        }
        if (router != null && !router.permit(route)) {
          metrics.upstreamAttempt(route.config(), GatewayMetrics.SKIPPED, 0);
          continue;
        }
        // The breaker's permission is given back unless the attempt's outcome is recorded.
        x.attemptRecorded = false;
        try {
          if (route != admitted) {
            if (tried > 0) {
              metrics.upstreamFallback(route.config());
            }
            // A failed or skipped upstream's hold is given back, nothing charged; the call is
            // admitted again on this upstream's own price.
            x.call.abandon(tried > 0 ? "upstream_fallback" : "upstream_cooling_down");
            x.call.close();
            x.route = route;
            reopened = admit.open(x);
            admitted = route;
          }
          tried++;
          boolean last =
              tried >= maxAttempts
                  || i == attempts.size() - 1
                  || (router != null && ticker.read() - deadline > 0);
          attempt(x, next, last);
          return;
        } catch (Failed f) {
          lastFailure = f;
          LOG.info(
              "upstream {} of model '{}' failed ({}); trying the next, request_id={}",
              route.name(),
              route.config().alias(),
              f.error.getMessage(),
              x.logRef());
        } finally {
          if (router != null && !x.attemptRecorded) {
            router.release(route);
          }
        }
      }
      if (lastFailure != null) {
        throw lastFailure.unanswered ? unanswered(x, lastFailure) : lastFailure.error;
      }
      throw new ApiError(
              503,
              "server_error",
              "upstream_unavailable",
              "every upstream of model '"
                  + x.alias()
                  + "' failed recently and is cooling down; try again later")
          .withRetryAfter(Math.max(1, router.fallback().cooldown().toSeconds()));
    } finally {
      if (reopened != null) {
        reopened.close();
      }
    }
  }

  /**
   * The 504 of an upstream that took the call and did not answer within the first-byte timeout,
   * with no other upstream tried after it: the call is charged its worst case, since the provider
   * may be generating it, and bill it, all the same.
   */
  private ApiError unanswered(CallExchange x, Failed timeout) {
    settle.unanswered(x, timeout.error.getMessage());
    return new ApiError(
        504, "server_error", "upstream_timeout", timeout.error.getMessage() + PlainAnswer.UNREAD);
  }

  /**
   * Sends the call to {@code x.route} and, once it answered, runs the rest of the chain.
   *
   * @param last whether no other upstream would be tried after this one
   * @throws Failed when it failed before answering and {@code last} is false
   */
  private void attempt(CallExchange x, Chain next, boolean last) throws Failed {
    Route route = x.route;
    byte[] body = upstreamBody(x);
    x.upstreamStart = ticker.read();
    x.upstreamCalled = true;
    UpstreamClient.Exchange response = send(x, body, last);
    long firstByte = ticker.read() - x.upstreamStart;
    try (response) {
      int status = response.status();
      if (status == 429 || status >= 500) {
        metrics.upstreamAttempt(
            route.config(), "status_" + (status == 429 ? "429" : "5xx"), firstByte);
        recordFailure(x, firstByte, new IOException("HTTP " + status));
        if (!last) {
          throw new Failed(
              new ApiError(
                  status,
                  "upstream_error",
                  "upstream_error",
                  "the upstream answered HTTP " + status),
              false);
        }
      } else {
        metrics.upstreamAttempt(route.config(), GatewayMetrics.ANSWERED, firstByte);
        x.attemptRecorded = true;
        if (router != null) {
          router.succeeded(route, firstByte);
        }
      }
      metrics.upstreamLatency(x.alias(), "first_byte", firstByte);
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

  private UpstreamClient.Exchange send(CallExchange x, byte[] body, boolean last) throws Failed {
    Route route = x.route;
    String alias = route.config().alias();
    try {
      return upstream.send(
          route.uri(x.api),
          x.api.upstreamHeaders(route.apiKey(), name -> x.ctx.header(name)),
          body);
    } catch (UpstreamClient.FirstByteTimeoutException e) {
      failed(x, "timeout", e);
      if (!last) {
        throw new Failed(
            new ApiError(504, "server_error", "upstream_timeout", e.getMessage()), true);
      }
      throw unanswered(
          x,
          new Failed(new ApiError(504, "server_error", "upstream_timeout", e.getMessage()), true));
    } catch (ConnectException e) {
      failed(x, "connect_error", e);
      ApiError error =
          new ApiError(
              502,
              "server_error",
              "upstream_unavailable",
              "cannot connect to the upstream for model '" + alias + "'");
      if (last) {
        throw error;
      }
      throw new Failed(error, false);
    } catch (IOException e) {
      failed(x, "io_error", e);
      upstreamLog.warn(
          ticker.read(), "upstream call for model '{}' failed: {}", alias, e.getMessage());
      ApiError error =
          new ApiError(
              502,
              "server_error",
              "upstream_unavailable",
              "the upstream call for model '" + alias + "' failed");
      if (last) {
        throw error;
      }
      throw new Failed(error, false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiError(503, "server_error", "shutting_down", "the gateway is shutting down");
    }
  }

  private void failed(CallExchange x, String outcome, Throwable why) {
    long nanos = ticker.read() - x.upstreamStart;
    metrics.upstreamAttempt(x.route.config(), outcome, nanos);
    recordFailure(x, nanos, why);
  }

  private void recordFailure(CallExchange x, long nanos, Throwable why) {
    x.attemptRecorded = true;
    if (router != null) {
      router.failed(x.route, nanos, why);
    }
  }
}

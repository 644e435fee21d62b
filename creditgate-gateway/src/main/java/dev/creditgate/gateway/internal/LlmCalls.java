package dev.creditgate.gateway.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.GatewayLimits;
import dev.creditgate.meter.CreditMeter;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The metered LLM APIs ({@link LlmApi}: {@code POST /v1/chat/completions}, {@code /v1/responses},
 * {@code /v1/embeddings}, {@code /v1/messages}): one chain of single-purpose steps for all of them,
 * each step asking the call's API for what differs.
 *
 * <ol>
 *   <li>{@link ReadRequest}: name the request, authenticate, read and validate the body, resolve
 *       the alias to a route that speaks the API's protocol, build the billing context;
 *   <li>{@link AdmitCall}: take the call's slot under the concurrency limits, open its metering
 *       (claims the Idempotency-Key, admits or denies);
 *   <li>{@link CallUpstream}: call the route's upstream;
 *   <li>{@link PlainAnswer} or {@link StreamAnswer}: relay the answer and settle its usage.
 * </ol>
 *
 * The credit side is one {@link dev.creditgate.meter.MeteredCall}; no step talks to the ledger or
 * the guard. A request refused before the upstream is called changes nothing.
 */
public final class LlmCalls {

  public static final String IDEMPOTENCY_HEADER = ReadRequest.IDEMPOTENCY_HEADER;
  public static final String REQUEST_ID_HEADER = ReadRequest.REQUEST_ID_HEADER;
  public static final String SCENE_HEADER = ReadRequest.SCENE_HEADER;
  public static final String CONVERSATION_HEADER = ReadRequest.CONVERSATION_HEADER;
  public static final String CHARGED_HEADER = SettleUsage.CHARGED_HEADER;
  public static final String BALANCE_HEADER = SettleUsage.BALANCE_HEADER;
  public static final String ESTIMATED_HEADER = SettleUsage.ESTIMATED_HEADER;

  private final CallChain chain;
  private final GatewayMetrics metrics;

  /** Calls being handled, for a shutdown that must not close the ledger under a charge. */
  private final AtomicInteger active = new AtomicInteger();

  private final Ticker ticker;
  private final CallTracing tracing;

  public LlmCalls(
      Authenticator auth,
      UpstreamRouter router,
      CreditMeter meter,
      UpstreamClient upstream,
      GatewayMetrics metrics,
      TokenEstimator estimator,
      Ticker ticker,
      CallOptions options,
      GatewayLimits limits,
      CallTracing tracing) {
    this.metrics = metrics;
    this.ticker = ticker;
    this.tracing = tracing;
    CallSlots slots = new CallSlots(limits, metrics);
    metrics.callSlots(slots);
    SettleUsage settle = new SettleUsage(estimator, metrics, ticker);
    CallStep plain = new PlainAnswer(settle, metrics, ticker, options.maxAnswerBytes());
    CallStep stream = new StreamAnswer(settle, metrics, ticker);
    AdmitCall admit = new AdmitCall(meter, estimator, slots, metrics, options.storedInputTokens());
    this.chain =
        new CallChain(
            List.of(
                new ReadRequest(auth, router, options),
                admit,
                new CallUpstream(upstream, router, admit, settle, metrics, ticker),
                (x, next) -> (x.stream ? stream : plain).process(x, next)),
            ticker);
  }

  /** The handler of each API, by its path under the gateway's root ({@code /v1/messages}, ...). */
  public Map<String, Handler> handlers() {
    Map<String, Handler> handlers = new LinkedHashMap<>();
    for (LlmApi api : LlmApis.ALL) {
      handlers.put("/v1" + api.upstreamPath(), ctx -> handle(ctx, api));
    }
    return handlers;
  }

  /** Answers a chat completion. */
  public void handle(Context ctx) {
    handle(ctx, ChatApi.INSTANCE);
  }

  private void handle(Context ctx, LlmApi api) {
    CallExchange exchange = new CallExchange(ctx, api);
    exchange.startTick = ticker.read();
    metrics.callReceived();
    if (tracing.enabled()) {
      exchange.startEpochNanos = CallTracing.nowEpochNanos();
      tracing.start(exchange);
    }
    active.incrementAndGet();
    try {
      chain.run(exchange);
    } catch (ApiError e) {
      exchange.status = e.status();
      respondError(ctx, e, api);
    } finally {
      long end = ticker.read();
      active.decrementAndGet();
      metrics.request(api.name(), exchange.alias(), exchange.status);
      if (exchange.upstreamCalled) {
        metrics.upstreamCall(
            api.operation(),
            exchange.route.config(),
            exchange.usage,
            exchange.status,
            // To the end of the answer, as the upstream span: the charge after it is not the
            // operation's.
            (exchange.settleStart != 0 ? exchange.settleStart : end) - exchange.upstreamStart);
      }
      tracing.finish(exchange, end);
    }
  }

  /**
   * Waits until no call is being handled (each one has charged what it served); false on timeout.
   */
  public boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (active.get() > 0) {
      if (System.nanoTime() - deadline >= 0) {
        return false;
      }
      Thread.sleep(10);
    }
    return true;
  }

  /** Calls being handled now. */
  public int active() {
    return active.get();
  }

  /**
   * Answers with the error's status, its {@code Retry-After} if it has one, and its body in the
   * shape of the API of the request's path (Anthropic's for {@code /v1/messages}, else OpenAI's).
   */
  public static void respondError(Context ctx, ApiError e) {
    respondError(
        ctx, e, ctx.path().startsWith("/v1/messages") ? MessagesApi.INSTANCE : ChatApi.INSTANCE);
  }

  /** Answers with the error in {@code api}'s shape. */
  static void respondError(Context ctx, ApiError e, LlmApi api) {
    if (e.retryAfterSeconds() > 0) {
      ctx.header("Retry-After", Long.toString(e.retryAfterSeconds()));
    }
    ctx.status(e.status()).contentType("application/json").result(api.errorBody(e));
  }
}

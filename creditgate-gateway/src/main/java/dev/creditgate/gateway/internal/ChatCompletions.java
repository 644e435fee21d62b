package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.CreditBalanceBlockedException;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.internal.Authenticator.Principal;
import dev.creditgate.gateway.internal.UpstreamRouter.Route;
import dev.creditgate.internal.ThrottledLog;
import dev.creditgate.ledger.ChargeIntent;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.MeteringLedger;
import dev.creditgate.ledger.IdempotencyConflictException;
import dev.creditgate.ledger.LedgerChecks;
import dev.creditgate.ledger.LedgerUnavailableException;
import dev.creditgate.pricing.Usage;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /v1/chat/completions}: authenticate, validate, resolve the alias, check the event id
 * was not spent before, ask the guard, call the upstream, pass the answer through (streams chunk
 * by chunk), and charge the usage with the request's event id.
 *
 * <p>A request that fails before the upstream is called changes nothing. A streamed call is
 * charged when its upstream stream ends, even if the client left: the gateway keeps reading (each
 * wait bounded by the idle timeout) to learn the usage.
 */
public final class ChatCompletions {

  public static final String IDEMPOTENCY_HEADER = "Idempotency-Key";
  public static final String REQUEST_ID_HEADER = "X-Request-Id";
  public static final String SCENE_HEADER = "X-Creditgate-Scene";
  public static final String CONVERSATION_HEADER = "X-Creditgate-Conversation";
  public static final String CHARGED_HEADER = "X-Creditgate-Charged";
  public static final String BALANCE_HEADER = "X-Creditgate-Balance";
  public static final String ESTIMATED_HEADER = "X-Creditgate-Estimated";
  /** Non-streaming upstream bodies larger than this are refused rather than held in memory. */
  static final int MAX_UPSTREAM_BODY_BYTES = 64 * 1024 * 1024;

  private static final Logger LOG = LoggerFactory.getLogger(ChatCompletions.class);
  private static final Set<String> HOP_HEADERS = Set.of("x-creditgate-account", "x-creditgate-skip-charge");

  private final Authenticator auth;
  private final UpstreamRouter router;
  private final CreditBalanceGuard guard;
  private final MeteringLedger ledger;
  private final UpstreamClient upstream;
  private final GatewayMetrics metrics;
  private final TokenEstimator estimator;
  private final Ticker ticker;
  private final long maxBodyBytes;
  /** How long an answer waits for its call's intent to be synced (one fsync, normally done long before); zero: no wait. */
  private final Duration intentSyncWait;
  private final Set<String> inflight = ConcurrentHashMap.newKeySet();
  /** Calls being handled, for a shutdown that must not close the ledger under a charge. */
  private final AtomicInteger active = new AtomicInteger();
  /** How long an admission waits for the account's charges still being written behind earlier answers. */
  static final Duration OWN_CHARGES_WAIT = Duration.ofMillis(200);
  /** The output tokens an intent's estimate counts at most. */
  static final long MAX_INTENT_OUTPUT_TOKENS = 100_000;
  private final ThrottledLog ledgerLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));
  private final ThrottledLog upstreamLog = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  public ChatCompletions(Authenticator auth, UpstreamRouter router, CreditBalanceGuard guard, MeteringLedger ledger,
      UpstreamClient upstream, GatewayMetrics metrics, TokenEstimator estimator, Ticker ticker, long maxBodyBytes,
      Duration intentSyncWait) {
    this.auth = auth;
    this.router = router;
    this.guard = guard;
    this.ledger = ledger;
    this.upstream = upstream;
    this.metrics = metrics;
    this.estimator = estimator;
    this.ticker = ticker;
    this.maxBodyBytes = maxBodyBytes;
    this.intentSyncWait = intentSyncWait;
  }

  /** What one call was billed, for the response headers. */
  private record Billed(long credits, Long balance, boolean estimated) {
    static final Billed NONE = new Billed(0, null, false);
  }

  public void handle(Context ctx) {
    String alias = "unknown";
    int status = 500;
    active.incrementAndGet();
    try {
      String requestId = requestId(ctx);
      ctx.header(REQUEST_ID_HEADER, requestId);
      Principal principal = auth.authenticate(ctx);
      ObjectNode request = parseBody(ctx);
      Route route = router.resolve(request.path("model").asText(""));
      alias = route.config().alias();
      BillingContext billing = new BillingContext(principal.accountId(), eventId(ctx), header(ctx, SCENE_HEADER),
          requestId, header(ctx, CONVERSATION_HEADER), alias, principal.skipCharge()).normalize();
      status = serve(ctx, request, route, billing, ctx.header(IDEMPOTENCY_HEADER) != null);
    } catch (ApiError e) {
      status = e.status();
      respondError(ctx, e);
    } finally {
      active.decrementAndGet();
      metrics.request("chat_completions", alias, status);
    }
  }

  /** Waits until no call is being handled (each one has charged what it served); false on timeout. */
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

  private int serve(Context ctx, ObjectNode request, Route route, BillingContext billing, boolean clientEventId) {
    boolean charged = billing.hasAccount() && !billing.skipCharge();
    String claim = billing.accountId() + "\n" + billing.eventId();
    if (charged) {
      if (!inflight.add(claim)) {
        throw idempotencyReused(billing.eventId(), "a request with this key is in progress");
      }
    }
    try {
      // An event id the gateway just drew at random cannot have been spent: only a client's
      // Idempotency-Key costs the ledger read.
      if (charged && clientEventId && spentBefore(billing)) {
        throw idempotencyReused(billing.eventId(), "it was already used for a completed, charged request");
      }
      if (charged) {
        // This account's own charges still being written behind earlier answers count.
        long waitStart = ticker.read();
        metrics.ledgerWait("own_charges", ticker.read() - waitStart);
      }
      Admission admission = guard.check(billing);
      if (admission.isDenied()) {
        throw new ApiError(402, "insufficient_credits", "credit_balance_blocked",
            CreditBalanceBlockedException.MESSAGE);
      }
      if (charged && admission.reason() == Admission.Reason.NO_SNAPSHOT) {
        // The seed admits an account the store does not know; a gateway that sells credit must not
        // serve free calls to an account nobody opened.
        throw new ApiError(402, "insufficient_credits", "account_not_found",
            "account '" + billing.accountId() + "' does not exist");
      }
      boolean stream = request.path("stream").asBoolean(false);
      boolean clientWantsUsage = request.path("stream_options").path("include_usage").asBoolean(false);
      request.put("model", route.config().model());
      if (stream) {
        ObjectNode options = request.has("stream_options") && request.get("stream_options").isObject()
            ? (ObjectNode) request.get("stream_options") : request.putObject("stream_options");
        options.put("include_usage", true);
      }
      byte[] upstreamBody = bytes(request);
      ChargeIntent intent = charged ? intend(request, route, billing, upstreamBody.length) : null;
      try {
        return stream ? streamCall(ctx, request, route, billing, intent, upstreamBody, clientWantsUsage)
            : plainCall(ctx, request, route, billing, intent, upstreamBody);
      } finally {
        if (intent != null) {
          intent.close();
        }
      }
    } finally {
      if (charged) {
        inflight.remove(claim);
      }
    }
  }

  private boolean spentBefore(BillingContext billing) {
    try {
      return ledger.eventRecorded(billing.accountId(), billing.eventId());
    } catch (LedgerUnavailableException e) {
      // The charge itself spools and the ledger rejects a second entry for the event id.
      ledgerLog.warn(ticker.read(), "cannot check the idempotency key, account_id={}: {}",
          billing.accountId(), e.getMessage());
      return false;
    }
  }

  private int plainCall(Context ctx, ObjectNode request, Route route, BillingContext billing, ChargeIntent intent,
      byte[] body) {
    long start = ticker.read();
    byte[] answer;
    int status;
    try (UpstreamClient.Exchange response = send(route, body)) {
      metrics.upstreamLatency(route.config().alias(), "first_byte", ticker.read() - start);
      awaitDurable(intent, billing);
      status = response.status();
      answer = readAll(response.body(), MAX_UPSTREAM_BODY_BYTES, response.contentLength());
    } catch (BodyTooLargeException e) {
      throw new ApiError(502, "server_error", "upstream_bad_response", "the upstream answer is larger than "
          + MAX_UPSTREAM_BODY_BYTES / (1024 * 1024) + " MiB");
    } catch (IOException e) {
      throw new ApiError(504, "server_error", "upstream_timeout",
          "the upstream stopped sending before the response was complete");
    }
    metrics.upstreamLatency(route.config().alias(), "total", ticker.read() - start);
    JsonNode parsed = null;
    try {
      parsed = Json.MAPPER.readTree(answer);
    } catch (IOException e) {
      parsed = null;
    }
    Optional<Usage> usage = UsageParser.from(parsed);
    Billed billed = Billed.NONE;
    if (intent != null) {
      if (usage.isPresent()) {
        billed = charge(intent, billing, route, usage.get(), false);
      } else if (status / 100 == 2 && parsed != null) {
        billed = charge(intent, billing, route, estimator.estimate(request, completionText(parsed), 0), true);
      }
      ctx.header(CHARGED_HEADER, Long.toString(billed.credits()));
      if (billed.balance() != null) {
        ctx.header(BALANCE_HEADER, Long.toString(billed.balance()));
      }
      if (billed.estimated()) {
        ctx.header(ESTIMATED_HEADER, "true");
      }
    }
    if (status / 100 == 2 && parsed != null) {
      ctx.status(status).contentType("application/json");
      writeBody(ctx, answer);
      return status;
    }
    if (status / 100 == 2) {
      throw new ApiError(502, "server_error", "upstream_bad_response", "the upstream answered with a body that is not JSON");
    }
    return relayUpstreamError(ctx, status, parsed, answer);
  }

  private int streamCall(Context ctx, ObjectNode request, Route route, BillingContext billing, ChargeIntent intent,
      byte[] body, boolean clientWantsUsage) {
    long start = ticker.read();
    try (UpstreamClient.Exchange response = send(route, body)) {
      metrics.upstreamLatency(route.config().alias(), "first_byte", ticker.read() - start);
      awaitDurable(intent, billing);
      if (response.status() != 200) {
        return passError(ctx, route, billing, intent, response);
      }
      return relayStream(ctx, request, route, billing, intent, clientWantsUsage, response.body(), start);
    }
  }

  private int relayStream(Context ctx, ObjectNode request, Route route, BillingContext billing, ChargeIntent intent,
      boolean clientWantsUsage, InputStream in, long start) {
    String alias = route.config().alias();
    SseScanner scanner = new SseScanner();
    UsageChunkFilter filter = clientWantsUsage ? null : new UsageChunkFilter();
    DoneHoldback hold = new DoneHoldback();
    boolean clientGone = false;
    boolean upstreamBroken = false;
    ctx.status(200);
    var res = ctx.res();
    res.setContentType("text/event-stream; charset=utf-8");
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("X-Accel-Buffering", "no");
    byte[] buf = new byte[16 * 1024];
    try {
      OutputStream out = null;
      try {
        out = res.getOutputStream();
        res.flushBuffer();
      } catch (IOException e) {
        clientGone = true;
      }
      int n;
      while ((n = in.read(buf)) != -1) {
        scanner.feed(buf, 0, n);
        if (!clientGone) {
          try {
            if (filter == null) {
              out.write(buf, 0, hold.pass(buf, 0, n));
            } else {
              byte[] passed = filter.feed(buf, 0, n);
              out.write(passed, 0, hold.pass(passed, 0, passed.length));
            }
            out.flush();
          } catch (IOException e) {
            clientGone = true;
            metrics.clientDisconnected(alias);
            LOG.info("client left mid-stream, reading the upstream to its end to charge it, request_id={}",
                billing.requestId());
          }
        }
      }
      if (filter != null && !clientGone) {
        try {
          byte[] rest = filter.finish();
          out.write(rest, 0, hold.pass(rest, 0, rest.length));
          out.flush();
        } catch (IOException e) {
          clientGone = true;
        }
      }
    } catch (IOException e) {
      upstreamBroken = true;
      LOG.warn("upstream stream ended early, request_id={}: {}", billing.requestId(), e.getMessage());
    } finally {
      // Whatever ended the stream (even an unexpected exception), what the upstream served is charged.
      metrics.upstreamLatency(alias, "total", ticker.read() - start);
      if (intent != null) {
        chargeStream(intent, request, route, billing, scanner);
      }
    }
    // The closing [DONE] goes out only now that the charge is journaled, committed or spooled, so a
    // client never holds a complete stream whose charge a crash could still lose.
    byte[] held = hold.release();
    if (!clientGone && held.length > 0) {
      try {
        res.getOutputStream().write(held);
        res.flushBuffer();
      } catch (IOException e) {
        metrics.clientDisconnected(alias);
      }
    }
    return upstreamBroken ? 502 : 200;
  }

  private void chargeStream(ChargeIntent intent, ObjectNode request, Route route, BillingContext billing,
      SseScanner scanner) {
    Usage usage = scanner.usage();
    if (usage != null) {
      charge(intent, billing, route, usage, false);
    } else if (!scanner.text().isEmpty() || scanner.textDropped() > 0) {
      charge(intent, billing, route, estimator.estimate(request, scanner.text(), scanner.textDropped()), true);
    } else {
      // Nothing was generated and nothing reported: a failed call, not charged.
      LOG.warn("stream produced no content and no usage; not charged, request_id={}", billing.requestId());
    }
  }

  private int passError(Context ctx, Route route, BillingContext billing, ChargeIntent intent,
      UpstreamClient.Exchange response) {
    byte[] answer;
    try {
      answer = readAll(response.body(), 1024 * 1024, response.contentLength());
    } catch (IOException e) {
      answer = new byte[0];
    }
    int status = response.status();
    JsonNode parsed;
    try {
      parsed = Json.MAPPER.readTree(answer);
    } catch (IOException e) {
      parsed = null;
    }
    if (intent != null) {
      UsageParser.from(parsed).ifPresent(u -> {
        Billed b = charge(intent, billing, route, u, false);
        ctx.header(CHARGED_HEADER, Long.toString(b.credits()));
      });
    }
    return relayUpstreamError(ctx, status, parsed, answer);
  }

  /** Passes an upstream error back with its status, in the upstream's error body when it has one. */
  private static int relayUpstreamError(Context ctx, int status, JsonNode parsed, byte[] answer) {
    int passed = status >= 400 && status <= 599 ? status : 502;
    if (parsed != null && parsed.path("error").isObject()) {
      ctx.status(passed).contentType("application/json").result(answer);
    } else {
      ApiError e = new ApiError(passed, "upstream_error", "upstream_error", "the upstream answered HTTP " + status);
      ctx.status(passed).contentType("application/json").result(Json.errorBytes(e));
    }
    return passed;
  }

  /**
   * Tells the ledger the call is about to be served, with a rough estimate of its charge (a token
   * per four bytes of the request, plus its output limit): a write-behind ledger journals it and
   * charges it should a power loss take the real charge. Should the journal fail, the call is
   * served and charged as without one.
   */
  private ChargeIntent intend(ObjectNode request, Route route, BillingContext billing, int bodyBytes) {
    long output = Math.max(request.path("max_completion_tokens").asLong(0), request.path("max_tokens").asLong(0));
    Usage estimate = new Usage((bodyBytes + 3) / 4, Math.min(Math.max(0, output), MAX_INTENT_OUTPUT_TOKENS), 0, 0);
    try {
      return ledger.intend(chargeRequest(billing, billing.eventId(), route, estimate, true));
    } catch (RuntimeException e) {
      ledgerLog.warn(ticker.read(), "cannot journal the call's intent, account_id={}: {}", billing.accountId(),
          e.toString());
      return ChargeIntent.direct(ledger);
    }
  }

  /**
   * Before the client gets a byte, the intent must survive a power loss (it normally has: one
   * fsync), unless the operator chose not to wait ({@code ledger.intent-sync-wait: 0}).
   */
  private void awaitDurable(ChargeIntent intent, BillingContext billing) {
    if (intent == null || intentSyncWait.isZero()) {
      return;
    }
    long waitStart = ticker.read();
    try {
      if (!intent.awaitDurable(intentSyncWait)) {
        ledgerLog.warn(ticker.read(), "the call's intent was not synced within {}, request_id={}", intentSyncWait,
            billing.requestId());
      }
    } catch (RuntimeException e) {
      ledgerLog.warn(ticker.read(), "the call's intent cannot be synced, request_id={}: {}", billing.requestId(),
          e.toString());
    } finally {
      metrics.ledgerWait("intent_sync", ticker.read() - waitStart);
    }
  }

  private UpstreamClient.Exchange send(Route route, byte[] body) {
    try {
      return upstream.send(route.chatUri(), route.apiKey(), body);
    } catch (UpstreamClient.FirstByteTimeoutException e) {
      throw new ApiError(504, "server_error", "upstream_timeout", e.getMessage());
    } catch (ConnectException e) {
      throw new ApiError(502, "server_error", "upstream_unavailable", "cannot connect to the upstream for model '"
          + route.config().alias() + "'");
    } catch (IOException e) {
      upstreamLog.warn(ticker.read(), "upstream call for model '{}' failed: {}", route.config().alias(),
          e.getMessage());
      throw new ApiError(502, "server_error", "upstream_unavailable", "the upstream call for model '"
          + route.config().alias() + "' failed");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiError(503, "server_error", "shutting_down", "the gateway is shutting down");
    }
  }

  /** Charges the usage; never throws, since the call has already happened and its answer must go out. */
  private Billed charge(ChargeIntent intent, BillingContext billing, Route route, Usage usage, boolean estimated) {
    String alias = route.config().alias();
    ChargeRequest request = chargeRequest(billing, billing.eventId(), route, usage, estimated);
    try {
      ChargeResult result;
      long start = ticker.read();
      try {
        result = intent.charge(request);
        metrics.chargeLatency(alias, ticker.read() - start);
      } catch (IdempotencyConflictException e) {
        // Another gateway served the same key at the same moment and charged it first; this call
        // was served as well, so it is charged under an id of its own rather than given away.
        String own = "dup:" + UUID.randomUUID();
        LOG.warn("idempotency key raced on another gateway; charging this call as {}, request_id={}", own,
            billing.requestId());
        result = intent.charge(chargeRequest(billing, own, route, usage, estimated));
      }
      metrics.charge(alias, result, estimated);
      long credits = result.quote() == null ? 0 : result.quote().credits();
      Long balance = result.entry() == null ? null : result.entry().balanceAfter();
      return new Billed(credits, balance, estimated);
    } catch (RuntimeException e) {
      metrics.chargeFailed(alias);
      LOG.error("charge failed, account_id={}, event_id={}, usage={}: {}", billing.accountId(), billing.eventId(),
          usage, e.toString());
      return new Billed(0, null, estimated);
    }
  }

  private static ChargeRequest chargeRequest(BillingContext billing, String eventId, Route route, Usage usage,
      boolean estimated) {
    ObjectNode meta = Json.MAPPER.createObjectNode();
    meta.put("alias", billing.modelAlias());
    if (!billing.conversationId().isEmpty()) {
      meta.put("conversation_id", billing.conversationId());
    }
    if (!eventId.equals(billing.eventId())) {
      meta.put("idempotency_key", billing.eventId());
    }
    return new ChargeRequest(billing.accountId(), eventId, billing.requestId(), billing.scene(),
        route.config().provider(), route.config().model(), usage, estimated, Json.string(meta));
  }

  private ObjectNode parseBody(Context ctx) {
    byte[] body;
    long declared = ctx.req().getContentLengthLong();
    if (declared > maxBodyBytes) {
      throw tooLarge(ctx);
    }
    try {
      // Not closed here: an oversized body is drained from it before the 413 (tooLarge).
      body = readAll(ctx.req().getInputStream(), maxBodyBytes, declared);
    } catch (BodyTooLargeException e) {
      throw tooLarge(ctx);
    } catch (IOException e) {
      throw ApiError.invalidRequest("the request body could not be read", null);
    }
    if (body.length == 0) {
      throw ApiError.invalidRequest("the request body is empty; send a JSON object", null);
    }
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      throw ApiError.invalidRequest("the request body is not valid JSON", null);
    } catch (IOException e) {
      throw ApiError.invalidRequest("the request body could not be read", null);
    }
    if (root == null || !root.isObject()) {
      throw ApiError.invalidRequest("the request body must be a JSON object", null);
    }
    ObjectNode request = (ObjectNode) root;
    JsonNode model = request.get("model");
    if (model != null && !model.isNull() && !model.isTextual()) {
      throw ApiError.invalidRequest("'model' must be a string", "model");
    }
    JsonNode messages = request.get("messages");
    if (messages == null || messages.isNull()) {
      throw ApiError.invalidRequest("'messages' is required", "messages");
    }
    if (!messages.isArray()) {
      throw ApiError.invalidRequest("'messages' must be an array", "messages");
    }
    if (messages.isEmpty()) {
      throw ApiError.invalidRequest("'messages' must not be empty", "messages");
    }
    for (int i = 0; i < messages.size(); i++) {
      JsonNode m = messages.get(i);
      if (!m.isObject()) {
        throw ApiError.invalidRequest("'messages[" + i + "]' must be an object", "messages[" + i + "]");
      }
      if (!m.path("role").isTextual()) {
        throw ApiError.invalidRequest("'messages[" + i + "].role' must be a string", "messages[" + i + "].role");
      }
      JsonNode content = m.get("content");
      if (content != null && !content.isNull() && !content.isTextual() && !content.isArray()) {
        throw ApiError.invalidRequest("'messages[" + i + "].content' must be a string or an array",
            "messages[" + i + "].content");
      }
    }
    JsonNode stream = request.get("stream");
    if (stream != null && !stream.isNull() && !stream.isBoolean()) {
      throw ApiError.invalidRequest("'stream' must be a boolean", "stream");
    }
    JsonNode options = request.get("stream_options");
    if (options != null && !options.isNull() && !options.isObject()) {
      throw ApiError.invalidRequest("'stream_options' must be an object", "stream_options");
    }
    for (String field : new String[] {"max_tokens", "max_completion_tokens", "n"}) {
      JsonNode v = request.get(field);
      if (v != null && !v.isNull() && (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0)) {
        throw ApiError.invalidRequest("'" + field + "' must be a non-negative integer", field);
      }
    }
    JsonNode temperature = request.get("temperature");
    if (temperature != null && !temperature.isNull() && !temperature.isNumber()) {
      throw ApiError.invalidRequest("'temperature' must be a number", "temperature");
    }
    return request;
  }

  /** Bytes of an oversized body read and dropped before the 413, so that the answer reaches the client. */
  static final long OVERSIZED_BODY_DRAIN_BYTES = 4L * 1024 * 1024;

  /**
   * The 413 for an oversized body. The connection is closed after it; what the client is still
   * sending is read and dropped first (up to {@link #OVERSIZED_BODY_DRAIN_BYTES}), since closing a
   * socket with unread bytes makes the kernel reset the connection, and a client whose upload is
   * reset may never see the answer (seen as "header parser received no bytes" in a test).
   */
  private static ApiError tooLarge(Context ctx) {
    ctx.header("Connection", "close");
    try {
      InputStream in = ctx.req().getInputStream();
      byte[] sink = new byte[16 * 1024];
      long left = OVERSIZED_BODY_DRAIN_BYTES;
      int n;
      while (left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) != -1) {
        left -= n;
      }
    } catch (IOException | RuntimeException e) {
      // The client stopped sending; the 413 is still attempted.
    }
    return new ApiError(413, "invalid_request_error", "request_too_large", "the request body is too large");
  }

  private static String requestId(Context ctx) {
    String given = ctx.header(REQUEST_ID_HEADER);
    if (given == null || given.isBlank()) {
      return "req_" + UUID.randomUUID().toString().replace("-", "");
    }
    String id = given.trim();
    if (id.length() > 200 || !id.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new ApiError(400, "invalid_request_error", "invalid_header",
          REQUEST_ID_HEADER + " must be 1-200 printable ASCII characters without spaces", REQUEST_ID_HEADER);
    }
    return id;
  }

  private static String eventId(Context ctx) {
    String given = ctx.header(IDEMPOTENCY_HEADER);
    if (given == null) {
      return "evt_" + UUID.randomUUID().toString().replace("-", "");
    }
    try {
      return LedgerChecks.requireEventId(given.trim());
    } catch (IllegalArgumentException e) {
      throw new ApiError(400, "invalid_request_error", "invalid_idempotency_key", IDEMPOTENCY_HEADER + " must be 1-"
          + LedgerChecks.MAX_EVENT_ID_LENGTH + " printable ASCII characters without spaces", IDEMPOTENCY_HEADER);
    }
  }

  private static String header(Context ctx, String name) {
    String v = ctx.header(name);
    if (v == null) {
      return "";
    }
    if (v.length() > 200) {
      throw new ApiError(400, "invalid_request_error", "invalid_header", name + " must be at most 200 characters",
          name);
    }
    return v;
  }

  private static ApiError idempotencyReused(String eventId, String why) {
    return new ApiError(409, "invalid_request_error", "idempotency_key_reused",
        "Idempotency-Key '" + Authenticator.abbreviate(eventId) + "' cannot be used again: " + why, IDEMPOTENCY_HEADER);
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

  static void respondError(Context ctx, ApiError e) {
    ctx.status(e.status()).contentType("application/json").result(Json.errorBytes(e));
  }

  private static byte[] bytes(ObjectNode node) {
    try {
      return Json.MAPPER.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise the upstream request", e);
    }
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

  /**
   * Reads a body to its end, at most {@code limit} bytes. {@code sizeHint} is its declared length
   * (-1 when unknown): a body of that length is read into one array of exactly its size, not
   * through the JDK's 16 KiB chunks and a final copy.
   *
   * @throws BodyTooLargeException when the body is longer than {@code limit}
   */
  static byte[] readAll(InputStream in, long limit, long sizeHint) throws IOException {
    int max = (int) Math.min(limit, Integer.MAX_VALUE - 16);
    // A declared length is believed up to a point: more is allocated only as bytes arrive.
    int initial = (int) Math.min(sizeHint >= 0 ? Math.min(sizeHint, PREALLOCATED_AT_MOST) : UNKNOWN_LENGTH_BUFFER, max);
    byte[] buf = new byte[initial];
    int len = 0;
    while (true) {
      if (len == buf.length) {
        // Full: one more byte tells whether the body ends here.
        int next = in.read();
        if (next == -1) {
          return buf;
        }
        if (len >= max) {
          throw new BodyTooLargeException();
        }
        buf = Arrays.copyOf(buf, (int) Math.min(max, Math.max(UNKNOWN_LENGTH_BUFFER, 2L * buf.length)));
        buf[len++] = (byte) next;
        continue;
      }
      int n = in.read(buf, len, buf.length - len);
      if (n == -1) {
        return len == buf.length ? buf : Arrays.copyOf(buf, len);
      }
      len += n;
    }
  }

  /** The first buffer for a body of unknown length; it doubles as needed. */
  static final int UNKNOWN_LENGTH_BUFFER = 4096;
  /** The most allocated on a declared length alone. */
  static final int PREALLOCATED_AT_MOST = 1024 * 1024;

  static final class BodyTooLargeException extends IOException {
    private static final long serialVersionUID = 1L;
  }
}

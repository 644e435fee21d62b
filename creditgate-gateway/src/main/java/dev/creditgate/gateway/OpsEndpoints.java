package dev.creditgate.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.CreditCache;
import dev.creditgate.gateway.internal.Json;
import dev.creditgate.gateway.internal.UpstreamRouter;
import dev.creditgate.ledger.CreditLedger;
import io.javalin.http.Context;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code /health/ready} and {@code /metrics}. Readiness tells everyone whether the gateway is
 * ready, and only a caller with the admin token what each part says (the upstreams' hosts, the
 * names of missing key variables); callers without it share one check a second, so probing it costs
 * the ledger and the cache nothing more. {@code /metrics} answers only the admin token when {@code
 * metrics.require-admin-token} is set.
 */
final class OpsEndpoints {

  /** How long a readiness check serves callers without the admin token. */
  static final Duration PLAIN_CHECK_INTERVAL = Duration.ofSeconds(1);

  /** One check's outcome: whether the gateway is ready, and the detail of each part. */
  private record Readiness(boolean ready, ObjectNode detail) {}

  private final GatewayConfig config;
  private final CreditLedger ledger;
  private final CreditCache cache;
  private final UpstreamRouter router;
  private final PrometheusMeterRegistry registry;
  private final Ticker ticker;
  private final byte[] adminToken;
  private final ReentrantLock plainLock = new ReentrantLock();

  /** The last check served to callers without the token, and when it ran; guarded by the lock. */
  private Readiness plain;

  private long plainCheckedAt;

  OpsEndpoints(
      GatewayConfig config,
      CreditLedger ledger,
      CreditCache cache,
      UpstreamRouter router,
      PrometheusMeterRegistry registry,
      Ticker ticker) {
    this.config = config;
    this.ledger = ledger;
    this.cache = cache;
    this.router = router;
    this.registry = registry;
    this.ticker = ticker;
    this.adminToken = config.adminToken().getBytes(StandardCharsets.UTF_8);
  }

  void ready(Context ctx) {
    if (hasAdminToken(ctx)) {
      Readiness r = check();
      ctx.status(r.ready() ? 200 : 503)
          .contentType("application/json")
          .result(Json.string(r.detail()));
      return;
    }
    boolean ready = plainReadiness().ready();
    ctx.status(ready ? 200 : 503)
        .contentType("application/json")
        .result(ready ? "{\"status\":\"ready\"}" : "{\"status\":\"not_ready\"}");
  }

  void metrics(Context ctx) {
    if (config.metricsRequireAdminToken() && !hasAdminToken(ctx)) {
      throw new ApiError(
          401,
          "invalid_request_error",
          "invalid_admin_token",
          "/metrics needs the admin token: send it as 'Authorization: Bearer <token>'");
    }
    ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(registry.scrape());
  }

  /** Whether the request carries the admin token (never, when none is set). */
  boolean hasAdminToken(Context ctx) {
    if (adminToken.length == 0) {
      return false;
    }
    String h = ctx.header("Authorization");
    if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    return MessageDigest.isEqual(
        h.substring(7).trim().getBytes(StandardCharsets.UTF_8), adminToken);
  }

  /**
   * The readiness check shared by callers without the token, at most {@link #PLAIN_CHECK_INTERVAL}
   * old, with each part's detail ({@code status}, {@code ledger}, {@code cache}, {@code
   * upstreams}); callers must not change it. For the admin overview, which a console polls.
   */
  ObjectNode recentReadiness() {
    return plainReadiness().detail();
  }

  private Readiness plainReadiness() {
    plainLock.lock();
    try {
      long now = ticker.read();
      if (plain == null || now - plainCheckedAt >= PLAIN_CHECK_INTERVAL.toNanos()) {
        plain = check();
        plainCheckedAt = ticker.read();
      }
      return plain;
    } finally {
      plainLock.unlock();
    }
  }

  private Readiness check() {
    ObjectNode root = Json.MAPPER.createObjectNode();
    boolean ledgerOk;
    try {
      ledger.accounts(null, 1);
      ledgerOk = true;
    } catch (RuntimeException e) {
      ledgerOk = false;
    }
    boolean cacheOk;
    try {
      cache
          .lookup("health-check")
          .get(config.guardCacheTimeout().toMillis() * 4, TimeUnit.MILLISECONDS);
      cacheOk = true;
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      cacheOk = false;
    }
    root.put("ledger", ledgerOk ? "up" : "down");
    root.put("cache", cacheOk ? "up" : "down");
    ObjectNode upstreams = root.putObject("upstreams");
    for (String alias : router.aliases()) {
      upstreams.put(
          alias, router.ready(alias) ? "ready" : "not_ready: " + router.problems().get(alias));
    }
    boolean ready = ledgerOk && cacheOk && router.anyReady();
    root.put("status", ready ? "ready" : "not_ready");
    return new Readiness(ready, root);
  }
}

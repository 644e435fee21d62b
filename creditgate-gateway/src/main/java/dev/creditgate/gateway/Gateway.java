package dev.creditgate.gateway;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.CreditBalanceGuard;
import dev.creditgate.CreditCache;
import dev.creditgate.SnapshotPublisher;
import dev.creditgate.gateway.internal.AdminApi;
import dev.creditgate.gateway.internal.AdminAuth;
import dev.creditgate.gateway.internal.AdminOverview;
import dev.creditgate.gateway.internal.Authenticator;
import dev.creditgate.gateway.internal.CallOptions;
import dev.creditgate.gateway.internal.CallTracing;
import dev.creditgate.gateway.internal.GatewayMetrics;
import dev.creditgate.gateway.internal.Json;
import dev.creditgate.gateway.internal.LlmCalls;
import dev.creditgate.gateway.internal.ProcessMetrics;
import dev.creditgate.gateway.internal.TokenEstimator;
import dev.creditgate.gateway.internal.UpstreamClient;
import dev.creditgate.gateway.internal.UpstreamRouter;
import dev.creditgate.internal.MinuteCounters;
import dev.creditgate.ledger.CreditLedger;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.ledger.LedgerCreditMeterBuilder;
import dev.creditgate.ledger.MeteringLedger;
import dev.creditgate.ledger.PriceBook;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible HTTP gateway: {@code /v1/chat/completions}, {@code /v1/models}, the admin
 * API under {@code /admin/v1} (its OpenAPI document and Swagger UI too), {@code /metrics} and
 * {@code /health/*}. Requests run on virtual threads; one shared {@link UpstreamClient} calls the
 * upstreams.
 *
 * <p>The gateway does not own the ledger or the cache it is given; {@link #close()} stops the HTTP
 * server, the guard, the upstream client and its timers.
 */
public final class Gateway implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

  /**
   * After the upstream calls are aborted, how long their handlers get to charge what was served.
   */
  private static final Duration CHARGE_DRAIN = Duration.ofSeconds(10);

  private final GatewayConfig config;
  private final Javalin app;
  private final CreditBalanceGuard guard;
  private final UpstreamClient upstream;
  private final ScheduledExecutorService timer;
  private final UpstreamRouter router;
  private final PrometheusMeterRegistry registry;
  private final ProcessMetrics processMetrics;
  private final CallTracing tracing;
  private final LlmCalls chat;
  private final LedgerCreditMeter meter;

  private Gateway(Builder b) {
    this.config = b.config;
    if (config.adminToken().isEmpty() && !config.demoMode()) {
      throw new ConfigException(
          "admin.token is required outside demo mode (set CREDITGATE_ADMIN_TOKEN), but was"
              + " empty");
    }
    if (config.adminToken().isEmpty() && config.metricsRequireAdminToken()) {
      throw new ConfigException(
          "metrics.require-admin-token is true, but no admin.token is set to read them with");
    }
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    this.processMetrics = new ProcessMetrics(registry);
    TelemetrySettings telemetry = config.telemetry();
    this.tracing =
        telemetry.tracing()
            ? CallTracing.otlp(
                telemetry.otlpEndpoint(), telemetry.sampleRatio(), telemetry.serviceName())
            : CallTracing.OFF;
    GatewayMetrics metrics = new GatewayMetrics(registry, b.clock);
    metrics.ledger(b.metering);
    CreditBalanceGuard.Builder guardBuilder =
        CreditBalanceGuard.builder()
            .cache(b.cache)
            .snapshotProvider(b.ledger)
            .pendingDebits(b.metering)
            .cacheTimeout(config.guardCacheTimeout())
            .fetchTimeout(config.guardFetchTimeout())
            .failClosed(config.guardFailClosed())
            .rememberDenials(config.guardRememberDenials())
            .listener(metrics);
    if (b.publisher != null) {
      guardBuilder.publisher(b.publisher);
    }
    this.guard = guardBuilder.build();
    ScheduledThreadPoolExecutor stpe =
        new ScheduledThreadPoolExecutor(
            1, Thread.ofPlatform().daemon().name("creditgate-timer").factory());
    stpe.setRemoveOnCancelPolicy(true);
    this.timer = stpe;
    long rollMs = MinuteCounters.ROLL_INTERVAL.toMillis();
    timer.scheduleAtFixedRate(metrics::rollMinutes, rollMs, rollMs, TimeUnit.MILLISECONDS);
    this.upstream =
        new UpstreamClient(
            config.connectTimeout(), config.firstByteTimeout(), config.idleTimeout(), timer);
    this.router = new UpstreamRouter(config, b.env);
    router.probeAll();
    long probeMs = config.probeInterval().toMillis();
    timer.scheduleWithFixedDelay(
        () -> Thread.ofVirtual().start(router::probeAll), probeMs, probeMs, TimeUnit.MILLISECONDS);
    Authenticator auth = new Authenticator(b.keys, config.limits(), b.ticker, metrics);
    metrics.keys(b.keys);
    GatewayConfig.CreditSettings credit = config.credit();
    LedgerCreditMeterBuilder meterBuilder =
        LedgerCreditMeter.builder()
            .guard(guard)
            .ledger(b.metering)
            .prices(b.priceBook)
            .store(b.committedStore)
            .mode(credit.mode())
            .shortfall(credit.shortfall())
            .minimumClampTokens(credit.minimumClampTokens())
            .overdraft(credit.overdraft())
            .holdTimeout(credit.holdTimeout())
            .leaseTerm(credit.leaseTerm())
            .leaseSliceCalls(credit.leaseSliceCalls())
            .recordWait(config.intentSyncWait())
            .listener(metrics)
            .ticker(b.ticker);
    boolean leasing =
        switch (credit.leases()) {
          case ON -> true;
          case OFF -> false;
          case AUTO -> b.leasesByDefault;
        };
    if (leasing) {
      if (b.leases == null) {
        throw new IllegalStateException("credit.leases is on but the ledger cannot lease credit");
      }
      meterBuilder.leases(b.leases);
    }
    if (b.policies != null) {
      meterBuilder.policies(b.policies);
    }
    this.meter = meterBuilder.build();
    metrics.meter(meter);
    this.chat =
        new LlmCalls(
            auth,
            router,
            meter,
            upstream,
            metrics,
            new TokenEstimator(),
            b.ticker,
            new CallOptions(
                config.maxBodyBytes(),
                config.userScenes(),
                config.requestLimits().maxChoices(),
                config.requestLimits().maxTopLogprobs(),
                config.requestLimits().maxAnswerBytes(),
                config.requestLimits().storedInputTokens()),
            config.limits(),
            tracing);
    OpsEndpoints ops = new OpsEndpoints(config, b.ledger, b.cache, router, registry, b.ticker);
    AdminApi admin =
        new AdminApi(
            b.ledger,
            b.priceBook,
            b.keys,
            b.adminTokens,
            new AdminAuth(config.adminToken(), b.adminTokens, config.limits(), b.ticker),
            config.maxBodyBytes(),
            metrics,
            meter,
            config.limits(),
            new AdminOverview(metrics, meter, b.metering, router, ops::recentReadiness),
            b.clock);
    this.app =
        Javalin.create(
            cfg -> {
              cfg.concurrency.useVirtualThreads = true;
              cfg.startup.showJavalinBanner = false;
              cfg.startup.showOldJavalinVersionWarning = false;
              cfg.http.compressionStrategy = CompressionStrategy.NONE;
              cfg.http.maxRequestSize = config.maxBodyBytes();
              // A stop refuses new calls and waits this long for those in flight (Javalin's
              // statistics
              // handler counts them; GracefulShutdownTest fails without the timeout).
              cfg.jetty.modifyServer(
                  server -> server.setStopTimeout(config.shutdownTimeout().toMillis()));
              cfg.jetty.host = config.host();
              cfg.jetty.port = config.port();
              chat.handlers().forEach(cfg.routes::post);
              cfg.routes.get("/v1/models", ctx -> models(ctx, auth));
              cfg.routes.get("/health/live", ctx -> ctx.json(Map.of("status", "up")));
              cfg.routes.get("/health/ready", ops::ready);
              cfg.routes.get("/metrics", ops::metrics);
              admin.register(cfg.routes);
              cfg.routes.exception(ApiError.class, (e, ctx) -> error(ctx, e));
              cfg.routes.exception(
                  Exception.class,
                  (e, ctx) -> {
                    LOG.error(
                        "unexpected error on {} {}: {}", ctx.method(), ctx.path(), e.toString());
                    error(
                        ctx, new ApiError(500, "server_error", "internal_error", "internal error"));
                  });
              cfg.routes.error(
                  404,
                  ctx -> {
                    // No route matched (Javalin's own answer is plain text) rather than a
                    // handler answering 404 with an error body of its own.
                    String type = ctx.res().getContentType();
                    if (ctx.result() == null
                        || type == null
                        || !type.startsWith("application/json")) {
                      error(
                          ctx,
                          new ApiError(
                              404,
                              "invalid_request_error",
                              "not_found",
                              "no such endpoint: " + ctx.method() + " " + ctx.path()));
                    }
                  });
              cfg.routes.error(
                  405,
                  ctx ->
                      error(
                          ctx,
                          new ApiError(
                              405,
                              "invalid_request_error",
                              "method_not_allowed",
                              "method not allowed")));
              cfg.routes.error(
                  413,
                  ctx ->
                      error(
                          ctx,
                          new ApiError(
                              413,
                              "invalid_request_error",
                              "request_too_large",
                              "the request body is too large")));
            });
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Starts listening; returns this. */
  public Gateway start() {
    app.start();
    LOG.info(
        "creditgate gateway listening on http://{}:{} ({})", config.host(), app.port(), config);
    return this;
  }

  /** The port listened on (the one chosen when the config asked for 0). */
  public int port() {
    return app.port();
  }

  public GatewayConfig config() {
    return config;
  }

  /**
   * The HTTP routes the server has registered, each as its method and path template ({@code "GET
   * /v1/models"}), read from Javalin's router (its "unsafe" state, only read here). The admin API's
   * OpenAPI document is checked against them.
   */
  List<String> routes() {
    return app.unsafe.internalRouter.allHttpHandlers().stream()
        .map(route -> route.endpoint.method.name() + " " + route.endpoint.path)
        .toList();
  }

  /**
   * The aliases a key may call, each with its protocol and the endpoints that serve it; for a
   * client that sends {@code anthropic-version} (Anthropic's SDKs), those of the Anthropic protocol
   * in Anthropic's list shape.
   */
  private void models(Context ctx, Authenticator auth) {
    auth.anyKey(ctx);
    boolean anthropic = ctx.header("anthropic-version") != null;
    ObjectNode root = Json.MAPPER.createObjectNode();
    if (!anthropic) {
      root.put("object", "list");
    }
    ArrayNode data = root.putArray("data");
    for (String alias : router.aliases()) {
      Protocol protocol = router.protocol(alias);
      if (anthropic && protocol != Protocol.ANTHROPIC) {
        continue;
      }
      ObjectNode m = data.addObject();
      m.put("id", alias);
      if (anthropic) {
        m.put("type", "model");
        m.put("display_name", alias);
        m.put("created_at", "1970-01-01T00:00:00Z");
      } else {
        m.put("object", "model");
        m.put("created", 0);
        m.put("owned_by", "creditgate");
      }
      m.put("ready", router.ready(alias));
      m.put("protocol", protocol.configName());
      ArrayNode endpoints = m.putArray("endpoints");
      router.endpoints(alias).forEach(endpoints::add);
    }
    if (anthropic) {
      root.put("has_more", false);
      root.put("first_id", data.isEmpty() ? null : data.get(0).path("id").asText());
      root.put("last_id", data.isEmpty() ? null : data.get(data.size() - 1).path("id").asText());
    }
    ctx.contentType("application/json").result(root.toString());
  }

  private static void error(Context ctx, ApiError e) {
    LlmCalls.respondError(ctx, e);
  }

  /**
   * Stops gracefully: new calls are refused while those in flight get up to {@code
   * server.shutdown-timeout} to finish; then upstream calls still running are aborted and their
   * handlers charge what was served before this returns (so the ledger, closed after the gateway,
   * never closes under a charge).
   */
  @Override
  public void close() {
    int inFlight = chat.active();
    if (inFlight > 0) {
      LOG.info(
          "stopping: waiting up to {} for {} call(s) in flight",
          config.shutdownTimeout(),
          inFlight);
    }
    try {
      app.stop();
    } catch (RuntimeException e) {
      // Calls still running at the shutdown timeout make the stop report failure after it stopped
      // the server; the rest must still run, or those calls would charge into a closed ledger.
      LOG.warn(
          "the HTTP server did not stop gracefully within {}: {}",
          config.shutdownTimeout(),
          e.toString());
    }
    upstream.close();
    try {
      if (!chat.awaitIdle(CHARGE_DRAIN)) {
        LOG.warn("stopping with {} call(s) still charging after {}", chat.active(), CHARGE_DRAIN);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    meter.close();
    guard.close();
    timer.shutdownNow();
    processMetrics.close();
    tracing.close();
    registry.close();
  }

  /**
   * What a gateway is built from. The ledger, cache, key store and admin token store stay the
   * caller's to close.
   */
  public static final class Builder {
    private GatewayConfig config = GatewayConfig.defaults();
    private CreditLedger ledger;
    private dev.creditgate.CreditSnapshotProvider committedStore;
    private MeteringLedger metering;
    private PriceBook priceBook;
    private dev.creditgate.ledger.CreditLeases leases;
    private dev.creditgate.ledger.CreditPolicies policies;
    private boolean leasesByDefault;
    private SnapshotPublisher publisher;
    private CreditCache cache;
    private ApiKeyStore keys;
    private AdminTokenStore adminTokens;
    private Map<String, String> env = System.getenv();
    private Ticker ticker = Ticker.systemTicker();
    private InstantSource clock = Clock.systemUTC();

    private Builder() {}

    public Builder config(GatewayConfig config) {
      this.config = Objects.requireNonNull(config, "config");
      return this;
    }

    public <L extends CreditLedger & MeteringLedger & PriceBook> Builder ledger(L ledger) {
      this.ledger = Objects.requireNonNull(ledger, "ledger");
      // A strict meter's read when its guard had no snapshot: the committed state, without waiting
      // for the account's queued charges (they count as pending).
      this.committedStore =
          ledger instanceof dev.creditgate.ledger.jdbc.JdbcCreditLedger j
              ? j::committedSnapshot
              : ledger;
      this.metering = ledger;
      this.priceBook = ledger;
      if (ledger instanceof dev.creditgate.ledger.CreditPolicies p) {
        this.policies = p;
      }
      if (ledger instanceof dev.creditgate.ledger.CreditLeases l) {
        this.leases = l;
        // A database several processes can share: hold against leases unless configured not to.
        this.leasesByDefault =
            ledger instanceof dev.creditgate.ledger.jdbc.JdbcCreditLedger j
                && j.dialect() == dev.creditgate.ledger.jdbc.Dialect.POSTGRESQL;
      }
      return this;
    }

    /**
     * The ledger's metering role, when it is not the ledger itself (a test's wrapper, say); set
     * after {@link #ledger}.
     */
    public Builder metering(MeteringLedger metering) {
      this.metering = Objects.requireNonNull(metering, "metering");
      return this;
    }

    /**
     * The publisher that keeps the cache in step with the ledger, when the ledger's commits go
     * through it too (one writer of account states); by default the guard makes its own.
     */
    public Builder publisher(SnapshotPublisher publisher) {
      this.publisher = Objects.requireNonNull(publisher, "publisher");
      return this;
    }

    public Builder cache(CreditCache cache) {
      this.cache = Objects.requireNonNull(cache, "cache");
      return this;
    }

    public Builder keys(ApiKeyStore keys) {
      this.keys = Objects.requireNonNull(keys, "keys");
      return this;
    }

    /**
     * The named admin tokens; by default those in the database of a {@code JdbcCreditLedger} given
     * to {@link #ledger}, read through its pool.
     */
    public Builder adminTokens(AdminTokenStore adminTokens) {
      this.adminTokens = Objects.requireNonNull(adminTokens, "adminTokens");
      return this;
    }

    /** Where upstream API key variables are read from; the process environment by default. */
    public Builder env(Map<String, String> env) {
      this.env = Map.copyOf(Objects.requireNonNull(env, "env"));
      return this;
    }

    /** The time source for upstream latency and log throttling; tests pass a fake. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * The wall clock: the minutes the admin overview counts calls in, and "now" where the admin
     * API's time ranges default to it; the system's by default, tests pass one they move by hand.
     */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * @throws ConfigException when the config cannot run (no admin token outside demo mode)
     * @throws IllegalStateException when the ledger, cache or key store is missing, or the admin
     *     token store is and the ledger is not a {@code JdbcCreditLedger}
     */
    public Gateway build() {
      if (ledger == null || cache == null || keys == null) {
        throw new IllegalStateException("a gateway needs a ledger, a cache and a key store");
      }
      if (adminTokens == null) {
        if (!(ledger instanceof dev.creditgate.ledger.jdbc.JdbcCreditLedger jdbc)) {
          throw new IllegalStateException(
              "a gateway whose ledger is not a JdbcCreditLedger needs an admin token store");
        }
        adminTokens = new AdminTokenStore(jdbc.dataSource(), java.time.Clock.systemUTC());
      }
      return new Gateway(this);
    }
  }
}

package dev.creditgate.gateway.internal;

import dev.creditgate.Checks;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.FallbackSettings;
import dev.creditgate.gateway.GatewayConfig;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.Protocol;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps model aliases to their upstreams and knows which are ready. An upstream is ready when its
 * API key variable (if any) is set and its host accepted a TCP connection at the last probe; an
 * alias is ready when one of its upstreams is. Probing runs at start and then periodically, so an
 * upstream that comes up later becomes ready without a restart; an unready alias answers 503 {@code
 * runtime_not_ready} alone.
 *
 * <p>For each call, {@link #attempts} orders the alias's ready upstreams (in configured order, or
 * drawn by weight). An alias with several upstreams keeps a circuit breaker per upstream: an
 * upstream whose recent attempts mostly failed is skipped for the configured cooldown ({@link
 * #permit}), then tried again with one call.
 */
public final class UpstreamRouter {

  private static final Logger LOG = LoggerFactory.getLogger(UpstreamRouter.class);

  /** Attempts in a breaker's window. */
  static final int BREAKER_WINDOW = 10;

  /** Attempts a breaker needs in its window before it may open. */
  static final int BREAKER_MINIMUM_CALLS = 5;

  /** The share of failed attempts, in percent, that opens a breaker. */
  static final float BREAKER_FAILURE_RATE = 50;

  /**
   * One upstream of an alias with its resolved API key (never logged) and its URL for each API its
   * protocol serves, by path ({@link LlmApi#upstreamPath()}).
   */
  public record Route(ModelRoute config, Map<String, URI> uris, String apiKey) {

    public Route {
      uris = Map.copyOf(uris);
    }

    /** The upstream's URL for {@code api}. */
    URI uri(LlmApi api) {
      URI uri = uris.get(api.upstreamPath());
      if (uri == null) {
        throw new IllegalStateException(
            "route " + config.alias() + " does not serve " + api.upstreamPath());
      }
      return uri;
    }

    /** The base URL, where the upstream is probed. */
    URI baseUri() {
      return URI.create(config.baseUrl());
    }

    /** The upstream's name in metrics and logs. */
    String name() {
      return config.name();
    }

    /** The alias and the upstream's name, unique in the gateway. */
    String key() {
      return config.alias() + "/" + config.name();
    }

    @Override
    public String toString() {
      return "Route["
          + config.alias()
          + " -> "
          + config.name()
          + " "
          + config.provider()
          + "/"
          + config.model()
          + "]";
    }
  }

  /**
   * An upstream's API key variable is not set. The environment is read once, so the upstream stays
   * unready until a restart; probing its host would not change that.
   */
  static final class MissingApiKeyException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    MissingApiKeyException(String variable) {
      super("the API key variable " + variable + " is not set");
    }
  }

  private final List<String> aliases;

  /** Each alias's upstreams, in configured order. */
  private final Map<String, List<Route>> routes = new LinkedHashMap<>();

  /** Why each unready upstream is unready, by {@link Route#key()}. */
  private final Map<String, String> notReady = new ConcurrentHashMap<>();

  /** Upstreams whose API key is missing, by key; never probed. */
  private final Set<String> keyMissing = new HashSet<>();

  /** The circuit breakers of the upstreams of aliases with several, by key. */
  private final Map<String, CircuitBreaker> breakers = new HashMap<>();

  private final Duration connectTimeout;
  private final FallbackSettings fallback;

  public UpstreamRouter(GatewayConfig config, Map<String, String> env) {
    this.aliases = config.aliases();
    this.connectTimeout = config.connectTimeout();
    this.fallback = config.fallback();
    CircuitBreakerConfig breakerConfig =
        CircuitBreakerConfig.custom()
            .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
            .slidingWindowSize(BREAKER_WINDOW)
            .minimumNumberOfCalls(BREAKER_MINIMUM_CALLS)
            .failureRateThreshold(BREAKER_FAILURE_RATE)
            .waitDurationInOpenState(fallback.cooldown())
            .permittedNumberOfCallsInHalfOpenState(1)
            // Half-open once the cooldown is over, so that it is tried again (first, in its
            // configured place) even while its alias's other upstreams answer.
            .automaticTransitionFromOpenToHalfOpenEnabled(true)
            .recordExceptions(Throwable.class)
            .build();
    for (ModelRoute alias : config.models().values()) {
      List<Route> upstreams = new ArrayList<>();
      for (ModelRoute m : alias.upstreams()) {
        Route route = route(m, env);
        upstreams.add(route);
        if (alias.upstreams().size() > 1) {
          breakers.put(route.key(), CircuitBreaker.of(route.key(), breakerConfig));
        }
      }
      routes.put(alias.alias(), List.copyOf(upstreams));
    }
  }

  private Route route(ModelRoute m, Map<String, String> env) {
    String key = "";
    Map<String, URI> uris = new HashMap<>();
    for (LlmApi api : LlmApis.ALL) {
      if (api.protocol() == m.protocol()) {
        uris.put(api.upstreamPath(), URI.create(m.baseUrl() + api.upstreamPath()));
      }
    }
    Route route;
    try {
      key = apiKey(m, env);
      route = new Route(m, uris, key);
    } catch (MissingApiKeyException e) {
      route = new Route(m, uris, "");
      keyMissing.add(route.key());
      notReady.put(route.key(), e.getMessage());
    }
    return route;
  }

  /**
   * The route's API key from {@code env}, trimmed; empty when the route needs none.
   *
   * @throws MissingApiKeyException when the route names a key variable that is unset or blank
   */
  static String apiKey(ModelRoute route, Map<String, String> env) {
    if (route.apiKeyEnv().isEmpty()) {
      return "";
    }
    String key = env.getOrDefault(route.apiKeyEnv(), "");
    if (key.isBlank()) {
      throw new MissingApiKeyException(route.apiKeyEnv());
    }
    return key.trim();
  }

  /** Probes every configured upstream whose key is present; logs each change of state. */
  public void probeAll() {
    for (List<Route> upstreams : routes.values()) {
      for (Route r : upstreams) {
        if (keyMissing.contains(r.key())) {
          continue;
        }
        String problem = probe(r.baseUri());
        if (problem == null) {
          if (notReady.remove(r.key()) != null) {
            LOG.info(
                "model alias '{}' upstream {} is ready ({} {})",
                r.config().alias(),
                r.name(),
                r.config().provider(),
                r.config().model());
          }
        } else if (!problem.equals(notReady.put(r.key(), problem))) {
          LOG.warn(
              "model alias '{}' upstream {} is not ready: {}",
              r.config().alias(),
              r.name(),
              problem);
        }
      }
    }
  }

  private String probe(URI uri) {
    int port = uri.getPort() != -1 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
    try (Socket s = new Socket()) {
      s.connect(
          new InetSocketAddress(uri.getHost(), port),
          (int) Math.min(connectTimeout.toMillis(), 10_000));
      return null;
    } catch (IOException e) {
      return "cannot connect to "
          + uri.getHost()
          + ":"
          + port
          + " ("
          + e.getClass().getSimpleName()
          + ")";
    }
  }

  /**
   * The first ready upstream of {@code alias} (empty means {@value GatewayConfig#DEFAULT_ALIAS}).
   *
   * @throws ApiError 404 {@code model_not_found} for an unknown alias, 503 {@code
   *     runtime_not_ready} for one that cannot be served now
   */
  public Route resolve(String alias) {
    return readyUpstreams(name(alias)).get(0);
  }

  /**
   * The upstreams to try for one call of {@code api} to {@code alias}, in the order to try them:
   * the configured order, or, for an alias routed by weight, drawn by weight.
   *
   * @throws ApiError as {@link #resolve(String)} does, and 400 {@code wrong_protocol} for an alias
   *     whose upstreams speak another protocol than {@code api}'s
   */
  List<Route> attempts(String alias, LlmApi api) {
    String name = name(alias);
    List<Route> ready = readyUpstreams(name);
    Protocol protocol = ready.get(0).config().protocol();
    if (protocol != api.protocol()) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "wrong_protocol",
          "model '"
              + name
              + "' is served over the "
              + protocol.configName()
              + " protocol; call it through "
              + String.join(" or ", LlmApis.pathsOf(protocol)),
          "model");
    }
    if (ready.size() == 1) {
      return ready;
    }
    List<Route> order =
        ready.get(0).config().routing() == ModelRoute.Routing.ORDER ? ready : byWeight(ready);
    // Upstreams being skipped for their failures go last, so that the call is admitted on the
    // price of one it will try.
    List<Route> open = new ArrayList<>(order.size());
    List<Route> cooling = new ArrayList<>(0);
    for (Route r : order) {
      (coolingDown(r) ? cooling : open).add(r);
    }
    if (cooling.isEmpty()) {
      return order;
    }
    open.addAll(cooling);
    return open;
  }

  /**
   * A weighted draw without replacement: each upstream comes next with a chance proportional to its
   * weight among those left; those of weight 0 come last, in configured order.
   */
  static List<Route> byWeight(List<Route> upstreams) {
    List<Route> left = new ArrayList<>(upstreams);
    List<Route> order = new ArrayList<>(upstreams.size());
    while (!left.isEmpty()) {
      long total = 0;
      for (Route r : left) {
        total += r.config().weight();
      }
      if (total == 0) {
        order.addAll(left);
        break;
      }
      long draw = ThreadLocalRandom.current().nextLong(total);
      for (int i = 0; i < left.size(); i++) {
        draw -= left.get(i).config().weight();
        if (draw < 0) {
          order.add(left.remove(i));
          break;
        }
      }
    }
    return order;
  }

  private String name(String alias) {
    String name = alias == null || alias.isBlank() ? GatewayConfig.DEFAULT_ALIAS : alias.trim();
    if (!aliases.contains(name)) {
      throw new ApiError(
          404,
          "invalid_request_error",
          "model_not_found",
          "The model '" + Checks.abbreviate(name, 80) + "' does not exist; use one of " + aliases,
          "model");
    }
    return name;
  }

  /** The alias's ready upstreams, in configured order; 503 when none is. */
  private List<Route> readyUpstreams(String alias) {
    List<Route> upstreams = routes.getOrDefault(alias, List.of());
    List<Route> ready = new ArrayList<>(upstreams.size());
    for (Route r : upstreams) {
      if (!notReady.containsKey(r.key())) {
        ready.add(r);
      }
    }
    if (ready.isEmpty()) {
      throw new ApiError(
          503,
          "server_error",
          "runtime_not_ready",
          "llm runtime service dependency not initialized for model '" + alias + "'",
          "model");
    }
    return ready.size() == upstreams.size() ? upstreams : ready;
  }

  /**
   * Whether an attempt on {@code route} may start now: false while its breaker is open (its recent
   * attempts mostly failed), or half-open with its trial call already under way. True for an alias
   * with one upstream.
   */
  boolean permit(Route route) {
    CircuitBreaker breaker = breakers.get(route.key());
    return breaker == null || breaker.tryAcquirePermission();
  }

  /** Gives back the permission of an attempt that never reached {@code route}. */
  void release(Route route) {
    CircuitBreaker breaker = breakers.get(route.key());
    if (breaker != null) {
      breaker.releasePermission();
    }
  }

  /** An attempt on {@code route} got its answer's headers, and not an error to move on from. */
  void succeeded(Route route, long nanos) {
    CircuitBreaker breaker = breakers.get(route.key());
    if (breaker != null) {
      breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** An attempt on {@code route} failed in a way the call moves on from. */
  void failed(Route route, long nanos, Throwable why) {
    CircuitBreaker breaker = breakers.get(route.key());
    if (breaker != null) {
      breaker.onError(nanos, TimeUnit.NANOSECONDS, why);
    }
  }

  /** Whether {@code route}'s breaker is open now (it is being skipped). */
  boolean coolingDown(Route route) {
    CircuitBreaker breaker = breakers.get(route.key());
    return breaker != null && breaker.getState() == CircuitBreaker.State.OPEN;
  }

  FallbackSettings fallback() {
    return fallback;
  }

  public List<String> aliases() {
    return aliases;
  }

  /** The protocol of an alias's upstreams (the default for an alias with none configured). */
  public Protocol protocol(String alias) {
    List<Route> upstreams = routes.get(alias);
    return upstreams == null ? ModelRoute.DEFAULT_PROTOCOL : upstreams.get(0).config().protocol();
  }

  /** The gateway's endpoints that serve an alias, such as {@code POST /v1/chat/completions}. */
  public List<String> endpoints(String alias) {
    return LlmApis.pathsOf(protocol(alias));
  }

  /** Whether one of the alias's upstreams is ready. */
  public boolean ready(String alias) {
    return routes.getOrDefault(alias, List.of()).stream()
        .anyMatch(r -> !notReady.containsKey(r.key()));
  }

  /**
   * Why each unready alias is unready: its one upstream's problem, or, for an alias with several,
   * each upstream's by name.
   */
  public Map<String, String> problems() {
    Map<String, String> problems = new LinkedHashMap<>();
    for (String alias : aliases) {
      List<Route> upstreams = routes.get(alias);
      if (upstreams == null) {
        problems.put(alias, "no upstream is configured");
      } else if (!ready(alias)) {
        problems.put(
            alias,
            upstreams.size() == 1
                ? notReady.get(upstreams.get(0).key())
                : upstreams.stream()
                    .map(r -> r.name() + ": " + notReady.get(r.key()))
                    .collect(Collectors.joining("; ")));
      }
    }
    return problems;
  }

  /**
   * How one upstream of an alias stands now, for operators.
   *
   * @param name the upstream's name in metrics and logs
   * @param problem why it is not ready (the host that refused a connection, an unset key variable);
   *     null when it is ready
   * @param breaker its circuit breaker's state ({@code closed}, {@code open}: being skipped, {@code
   *     half_open}: one trial call allowed), or {@code none} for the one upstream of an alias
   */
  public record UpstreamState(String name, String problem, String breaker) {

    public boolean ready() {
      return problem == null;
    }
  }

  /** Each upstream of {@code alias}, in configured order; empty for an unknown alias. */
  public List<UpstreamState> upstreams(String alias) {
    List<UpstreamState> states = new ArrayList<>();
    for (Route r : routes.getOrDefault(alias, List.of())) {
      CircuitBreaker breaker = breakers.get(r.key());
      states.add(
          new UpstreamState(
              r.name(),
              notReady.get(r.key()),
              breaker == null
                  ? "none"
                  : breaker.getState().name().toLowerCase(java.util.Locale.ROOT)));
    }
    return states;
  }

  /** Whether any alias is configured and ready. */
  public boolean anyReady() {
    return routes.keySet().stream().anyMatch(this::ready);
  }
}

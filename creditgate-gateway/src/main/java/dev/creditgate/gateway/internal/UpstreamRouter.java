package dev.creditgate.gateway.internal;

import dev.creditgate.Checks;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.GatewayConfig;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.Protocol;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps model aliases to upstreams and knows which are ready. An alias is ready when its upstream is
 * configured, its API key variable (if any) is set, and its host accepted a TCP connection at the
 * last probe. Probing runs at start and then periodically, so an upstream that comes up later
 * becomes ready without a restart; an unready alias answers 503 {@code runtime_not_ready} alone.
 */
public final class UpstreamRouter {

  private static final Logger LOG = LoggerFactory.getLogger(UpstreamRouter.class);

  /**
   * A routable alias with its resolved API key (never logged) and the upstream's URL of each API
   * its protocol serves, by path ({@link LlmApi#upstreamPath()}).
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

    @Override
    public String toString() {
      return "Route[" + config.alias() + " -> " + config.provider() + "/" + config.model() + "]";
    }
  }

  /**
   * An upstream's API key variable is not set. The environment is read once, so the alias stays
   * unready until a restart; probing its host would not change that.
   */
  static final class MissingApiKeyException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    MissingApiKeyException(String variable) {
      super("the API key variable " + variable + " is not set");
    }
  }

  private final List<String> aliases;
  private final Map<String, Route> routes = new LinkedHashMap<>();
  private final Map<String, String> notReady = new ConcurrentHashMap<>();

  /** Aliases whose API key is missing; never probed. */
  private final Set<String> keyMissing = new HashSet<>();

  private final Duration connectTimeout;

  public UpstreamRouter(GatewayConfig config, Map<String, String> env) {
    this.aliases = config.aliases();
    this.connectTimeout = config.connectTimeout();
    for (ModelRoute m : config.models().values()) {
      String key = "";
      try {
        key = apiKey(m, env);
      } catch (MissingApiKeyException e) {
        keyMissing.add(m.alias());
        notReady.put(m.alias(), e.getMessage());
      }
      Map<String, URI> uris = new HashMap<>();
      for (LlmApi api : LlmApis.ALL) {
        if (api.protocol() == m.protocol()) {
          uris.put(api.upstreamPath(), URI.create(m.baseUrl() + api.upstreamPath()));
        }
      }
      routes.put(m.alias(), new Route(m, uris, key));
    }
    for (String alias : aliases) {
      if (!routes.containsKey(alias)) {
        notReady.put(alias, "no upstream is configured");
      }
    }
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
    for (Route r : routes.values()) {
      String alias = r.config().alias();
      if (keyMissing.contains(alias)) {
        continue;
      }
      String problem = probe(r.baseUri());
      if (problem == null) {
        if (notReady.remove(alias) != null) {
          LOG.info(
              "model alias '{}' is ready ({} {})",
              alias,
              r.config().provider(),
              r.config().model());
        }
      } else if (!problem.equals(notReady.put(alias, problem))) {
        LOG.warn("model alias '{}' is not ready: {}", alias, problem);
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
   * The route for {@code alias} (empty means {@value GatewayConfig#DEFAULT_ALIAS}).
   *
   * @throws ApiError 404 {@code model_not_found} for an unknown alias, 503 {@code
   *     runtime_not_ready} for one that cannot be served now
   */
  public Route resolve(String alias) {
    String name = alias == null || alias.isBlank() ? GatewayConfig.DEFAULT_ALIAS : alias.trim();
    if (!aliases.contains(name)) {
      throw new ApiError(
          404,
          "invalid_request_error",
          "model_not_found",
          "The model '" + Checks.abbreviate(name, 80) + "' does not exist; use one of " + aliases,
          "model");
    }
    String problem = notReady.get(name);
    if (problem != null) {
      throw new ApiError(
          503,
          "server_error",
          "runtime_not_ready",
          "llm runtime service dependency not initialized for model '" + name + "'",
          "model");
    }
    return routes.get(name);
  }

  /**
   * The route for {@code alias} when it serves {@code api}.
   *
   * @throws ApiError as {@link #resolve(String)} does, and 400 {@code wrong_protocol} for an alias
   *     whose upstream speaks another protocol than {@code api}'s
   */
  Route resolve(String alias, LlmApi api) {
    Route route = resolve(alias);
    Protocol protocol = route.config().protocol();
    if (protocol != api.protocol()) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "wrong_protocol",
          "model '"
              + route.config().alias()
              + "' is served over the "
              + protocol.configName()
              + " protocol; call it through "
              + String.join(" or ", LlmApis.pathsOf(protocol)),
          "model");
    }
    return route;
  }

  /** The protocol of an alias's upstream (the default for an alias with none configured). */
  public Protocol protocol(String alias) {
    Route route = routes.get(alias);
    return route == null ? ModelRoute.DEFAULT_PROTOCOL : route.config().protocol();
  }

  /** The gateway's endpoints that serve an alias, such as {@code POST /v1/chat/completions}. */
  public List<String> endpoints(String alias) {
    return LlmApis.pathsOf(protocol(alias));
  }

  public List<String> aliases() {
    return aliases;
  }

  public boolean ready(String alias) {
    return !notReady.containsKey(alias);
  }

  /** Why each unready alias is unready. */
  public Map<String, String> problems() {
    return Map.copyOf(notReady);
  }

  /** Whether any alias is configured and ready. */
  public boolean anyReady() {
    return routes.keySet().stream().anyMatch(this::ready);
  }
}

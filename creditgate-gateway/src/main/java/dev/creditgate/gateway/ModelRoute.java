package dev.creditgate.gateway;

import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where one model alias goes: the upstream's base URL and protocol, the provider's model and key,
 * and how its calls are bounded and counted.
 *
 * @param apiKeyEnv the environment variable holding the upstream's API key; blank when the upstream
 *     needs none (a local model server, the simulator)
 * @param provider the provider as price rules name it
 * @param model the provider's model the alias stands for
 * @param maxOutputTokens the output cap of a call that names none
 * @param tokenizer how the route's input is counted before a call (one of {@link
 *     GatewayConfig#TOKENIZERS})
 * @param protocol the protocol the upstream speaks (every upstream of an alias speaks the same)
 * @param name the upstream's name in metrics and logs ({@code <alias>#<index>} unless configured)
 * @param weight with {@link Routing#WEIGHTED}, the upstream's share of the calls it is tried first
 *     for (0: only as a fallback)
 * @param routing how the alias's upstreams are tried
 * @param fallbacks the alias's other upstreams, in configured order (empty on a fallback)
 */
public record ModelRoute(
    String alias,
    String baseUrl,
    String apiKeyEnv,
    String provider,
    String model,
    long maxOutputTokens,
    String tokenizer,
    Protocol protocol,
    String name,
    int weight,
    Routing routing,
    List<ModelRoute> fallbacks) {

  /** How an alias's upstreams are tried for a call. */
  public enum Routing {
    /** The first upstream, then each fallback in order. */
    ORDER,
    /** First one drawn by weight, then the others by weight among those left. */
    WEIGHTED
  }

  /** The most upstreams an alias may have. */
  public static final int MAX_UPSTREAMS = 8;

  /** The largest weight accepted. */
  public static final int MAX_WEIGHT = 1000;

  /** The protocol of a route that names none. */
  public static final Protocol DEFAULT_PROTOCOL = Protocol.OPENAI;

  static final Pattern ALIAS = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

  /** An upstream's fields, at the alias's level (its first upstream) or in {@code upstreams}. */
  static final String UPSTREAM_FIELDS = "base-url|api-key-env|provider|model|tokenizer|name|weight";

  static final String FIELDS = UPSTREAM_FIELDS + "|max-output-tokens|protocol|routing";

  /** A model route's configuration key. */
  static final Pattern KEY = Pattern.compile("models\\.([^.]+)\\.(" + FIELDS + ")");

  /** The configuration key of one of an alias's further upstreams. */
  static final Pattern UPSTREAM_KEY =
      Pattern.compile("models\\.([^.]+)\\.upstreams\\.(\\d{1,2})\\.(" + UPSTREAM_FIELDS + ")");

  /** A model route's environment variable. */
  static final Pattern ENV =
      Pattern.compile("CREDITGATE_MODELS_([A-Z0-9_]+?)_(" + envNames(FIELDS) + ")");

  /** The environment variable of a further upstream's field. */
  static final Pattern UPSTREAM_ENV =
      Pattern.compile(
          "CREDITGATE_MODELS_([A-Z0-9_]+?)_UPSTREAMS_(\\d{1,2})_("
              + envNames(UPSTREAM_FIELDS)
              + ")");

  private static String envNames(String fields) {
    return fields.toUpperCase(java.util.Locale.ROOT).replace('-', '_');
  }

  /** Whether {@code key} is a model route's configuration key. */
  static boolean isKey(String key) {
    return KEY.matcher(key).matches() || UPSTREAM_KEY.matcher(key).matches();
  }

  /**
   * The configuration key of a model route's environment variable ({@code
   * CREDITGATE_MODELS_PRO_UPSTREAMS_1_BASE_URL} is {@code models.pro.upstreams.1.base-url}), or
   * null when {@code variable} is none.
   */
  static String keyOfEnv(String variable) {
    Matcher u = UPSTREAM_ENV.matcher(variable);
    if (u.matches()) {
      return "models."
          + alias(u.group(1))
          + ".upstreams."
          + Integer.parseInt(u.group(2))
          + "."
          + field(u.group(3));
    }
    Matcher m = ENV.matcher(variable);
    return m.matches() ? "models." + alias(m.group(1)) + "." + field(m.group(2)) : null;
  }

  private static String alias(String env) {
    return env.toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  private static String field(String env) {
    return env.toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  public ModelRoute {
    Objects.requireNonNull(alias, "alias");
    Objects.requireNonNull(baseUrl, "baseUrl");
    apiKeyEnv = Objects.requireNonNullElse(apiKeyEnv, "");
    provider = Objects.requireNonNullElse(provider, "");
    model = Objects.requireNonNullElse(model, "");
    if (maxOutputTokens < 1) {
      throw new IllegalArgumentException(
          "maxOutputTokens must be at least 1, but was " + maxOutputTokens);
    }
    tokenizer = tokenizer == null || tokenizer.isEmpty() ? defaultTokenizer(provider) : tokenizer;
    protocol = Objects.requireNonNullElse(protocol, DEFAULT_PROTOCOL);
    name = name == null || name.isBlank() ? alias + "#0" : name;
    if (weight < 0 || weight > MAX_WEIGHT) {
      throw new IllegalArgumentException(
          "weight must be between 0 and " + MAX_WEIGHT + ", but was " + weight);
    }
    routing = Objects.requireNonNullElse(routing, Routing.ORDER);
    fallbacks = List.copyOf(Objects.requireNonNullElse(fallbacks, List.of()));
    if (fallbacks.size() >= MAX_UPSTREAMS) {
      throw new IllegalArgumentException(
          "an alias may have at most " + MAX_UPSTREAMS + " upstreams");
    }
  }

  /** This route as the only upstream of its alias. */
  public ModelRoute(
      String alias,
      String baseUrl,
      String apiKeyEnv,
      String provider,
      String model,
      long maxOutputTokens,
      String tokenizer,
      Protocol protocol) {
    this(
        alias,
        baseUrl,
        apiKeyEnv,
        provider,
        model,
        maxOutputTokens,
        tokenizer,
        protocol,
        "",
        1,
        Routing.ORDER,
        List.of());
  }

  /** The alias's upstreams: this one, then its fallbacks. */
  public List<ModelRoute> upstreams() {
    if (fallbacks.isEmpty()) {
      return List.of(this);
    }
    List<ModelRoute> all = new java.util.ArrayList<>(1 + fallbacks.size());
    all.add(this);
    all.addAll(fallbacks);
    return all;
  }

  /** An OpenAI-protocol route with the default output cap and its provider's tokenizer. */
  public ModelRoute(String alias, String baseUrl, String apiKeyEnv, String provider, String model) {
    this(
        alias,
        baseUrl,
        apiKeyEnv,
        provider,
        model,
        GatewayConfig.DEFAULT_MAX_OUTPUT_TOKENS,
        "",
        DEFAULT_PROTOCOL);
  }

  /** The same route speaking {@code newProtocol}. */
  public ModelRoute withProtocol(Protocol newProtocol) {
    return new ModelRoute(
        alias,
        baseUrl,
        apiKeyEnv,
        provider,
        model,
        maxOutputTokens,
        tokenizer,
        newProtocol,
        name,
        weight,
        routing,
        fallbacks);
  }

  /** OpenAI's current encoding for OpenAI routes; the byte bound for any other. */
  static String defaultTokenizer(String provider) {
    return "openai".equals(provider) ? "o200k_base" : "bytes";
  }

  /**
   * The routes configured under {@code models.<alias>.<field>}, in alias order.
   *
   * @throws ConfigException naming the first bad key or value
   */
  static Map<String, ModelRoute> read(ConfigReader r) {
    Map<String, Map<String, String>> byAlias = new TreeMap<>();
    Map<String, Map<Integer, Map<String, String>>> further = new TreeMap<>();
    for (Map.Entry<String, String> e : r.props().entrySet()) {
      Matcher m = KEY.matcher(e.getKey());
      Matcher u = UPSTREAM_KEY.matcher(e.getKey());
      if (m.matches()) {
        byAlias.computeIfAbsent(m.group(1), k -> new TreeMap<>()).put(m.group(2), e.getValue());
      } else if (u.matches()) {
        byAlias.computeIfAbsent(u.group(1), k -> new TreeMap<>());
        further
            .computeIfAbsent(u.group(1), k -> new TreeMap<>())
            .computeIfAbsent(Integer.parseInt(u.group(2)), k -> new TreeMap<>())
            .put(u.group(3), e.getValue());
      }
    }
    Map<String, ModelRoute> models = new LinkedHashMap<>();
    for (Map.Entry<String, Map<String, String>> e : byAlias.entrySet()) {
      String alias = e.getKey();
      models.put(alias, read(r, alias, e.getValue(), further.getOrDefault(alias, Map.of())));
    }
    return models;
  }

  /**
   * One alias: its own fields make its first upstream unless it lists them all under {@code
   * upstreams}.
   */
  private static ModelRoute read(
      ConfigReader r,
      String alias,
      Map<String, String> f,
      Map<Integer, Map<String, String>> further) {
    String at = "models." + alias + ".";
    if (!ALIAS.matcher(alias).matches()) {
      throw new ConfigException(
          "models."
              + alias
              + ": alias must be 1-64 characters of [a-z0-9._-] starting with a"
              + " letter or digit, but was '"
              + alias
              + "'");
    }
    Protocol protocol = r.choice(at + "protocol", DEFAULT_PROTOCOL);
    Routing routing = r.choice(at + "routing", Routing.ORDER);
    long maxOutput =
        r.longIn(at + "max-output-tokens", GatewayConfig.DEFAULT_MAX_OUTPUT_TOKENS, 1, 10_000_000);
    List<ModelRoute> upstreams = new java.util.ArrayList<>();
    boolean ownUpstream = f.containsKey("base-url") || further.isEmpty();
    if (ownUpstream) {
      upstreams.add(upstream(r, at, alias, f, protocol, maxOutput, routing, alias + "#0"));
    }
    for (Map.Entry<Integer, Map<String, String>> e : further.entrySet()) {
      String where = at + "upstreams." + e.getKey() + ".";
      upstreams.add(
          upstream(
              r,
              where,
              alias,
              e.getValue(),
              protocol,
              maxOutput,
              routing,
              alias + "#" + upstreams.size()));
    }
    if (upstreams.size() > MAX_UPSTREAMS) {
      throw new ConfigException(
          "models."
              + alias
              + " has "
              + upstreams.size()
              + " upstreams; at most "
              + MAX_UPSTREAMS
              + " are allowed");
    }
    java.util.Set<String> names = new java.util.HashSet<>();
    for (ModelRoute u : upstreams) {
      if (!names.add(u.name())) {
        throw new ConfigException(
            "models." + alias + ": two upstreams are named '" + u.name() + "'");
      }
    }
    ModelRoute first = upstreams.get(0);
    return new ModelRoute(
        alias,
        first.baseUrl(),
        first.apiKeyEnv(),
        first.provider(),
        first.model(),
        maxOutput,
        first.tokenizer(),
        protocol,
        first.name(),
        first.weight(),
        routing,
        upstreams.subList(1, upstreams.size()));
  }

  /** One upstream from its fields, {@code at} the key prefix they have. */
  private static ModelRoute upstream(
      ConfigReader r,
      String at,
      String alias,
      Map<String, String> f,
      Protocol protocol,
      long maxOutput,
      Routing routing,
      String defaultName) {
    String baseUrl = f.getOrDefault("base-url", "").trim();
    if (baseUrl.isEmpty()) {
      throw new ConfigException(at + "base-url is required, but was missing or empty");
    }
    URI uri;
    try {
      uri = URI.create(baseUrl);
    } catch (IllegalArgumentException ex) {
      throw new ConfigException(at + "base-url is not a valid URL: '" + baseUrl + "'");
    }
    if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
        || uri.getHost() == null) {
      throw new ConfigException(
          at + "base-url must be an http(s) URL with a host, but was '" + baseUrl + "'");
    }
    String model = f.getOrDefault("model", "").trim();
    if (model.isEmpty()) {
      throw new ConfigException(at + "model is required, but was missing or empty");
    }
    String keyEnv = f.getOrDefault("api-key-env", "").trim();
    if (!keyEnv.isEmpty() && !keyEnv.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      throw new ConfigException(
          at + "api-key-env must be an environment variable name, but was '" + keyEnv + "'");
    }
    String provider = f.getOrDefault("provider", "").trim();
    if (provider.isEmpty()) {
      provider = protocol == Protocol.ANTHROPIC ? "anthropic" : "openai";
    }
    String tokenizer = f.getOrDefault("tokenizer", "").trim();
    if (!tokenizer.isEmpty() && !GatewayConfig.TOKENIZERS.contains(tokenizer)) {
      throw new ConfigException(
          at
              + "tokenizer must be one of "
              + String.join(", ", GatewayConfig.TOKENIZERS)
              + ", but was '"
              + tokenizer
              + "'");
    }
    String name = f.getOrDefault("name", "").trim();
    if (!name.isEmpty() && !ALIAS.matcher(name).matches()) {
      throw new ConfigException(
          at + "name must be 1-64 characters of [a-z0-9._-], but was '" + name + "'");
    }
    int weight = (int) r.longIn(at + "weight", 1, 0, MAX_WEIGHT);
    String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    return new ModelRoute(
        alias,
        base,
        keyEnv,
        provider,
        model,
        maxOutput,
        tokenizer,
        protocol,
        name.isEmpty() ? defaultName : name,
        weight,
        routing,
        List.of());
  }

  /** The keys a route is configured with, for error messages. */
  static String keysHelp() {
    return "models.<alias>.{"
        + String.join(",", FIELDS.split("\\|"))
        + "}, models.<alias>.upstreams[<n>].{"
        + String.join(",", UPSTREAM_FIELDS.split("\\|"))
        + "}";
  }
}

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
 * @param protocol the protocol the upstream speaks
 */
public record ModelRoute(
    String alias,
    String baseUrl,
    String apiKeyEnv,
    String provider,
    String model,
    long maxOutputTokens,
    String tokenizer,
    Protocol protocol) {

  /** The protocol of a route that names none. */
  public static final Protocol DEFAULT_PROTOCOL = Protocol.OPENAI;

  static final Pattern ALIAS = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

  static final String FIELDS =
      "base-url|api-key-env|provider|model|max-output-tokens|tokenizer|protocol";

  /** A model route's configuration key. */
  static final Pattern KEY = Pattern.compile("models\\.([^.]+)\\.(" + FIELDS + ")");

  /** A model route's environment variable. */
  static final Pattern ENV =
      Pattern.compile(
          "CREDITGATE_MODELS_([A-Z0-9_]+?)_("
              + FIELDS.toUpperCase(java.util.Locale.ROOT).replace('-', '_')
              + ")");

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
        alias, baseUrl, apiKeyEnv, provider, model, maxOutputTokens, tokenizer, newProtocol);
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
    for (Map.Entry<String, String> e : r.props().entrySet()) {
      Matcher m = KEY.matcher(e.getKey());
      if (m.matches()) {
        byAlias.computeIfAbsent(m.group(1), k -> new TreeMap<>()).put(m.group(2), e.getValue());
      }
    }
    Map<String, ModelRoute> models = new LinkedHashMap<>();
    for (Map.Entry<String, Map<String, String>> e : byAlias.entrySet()) {
      models.put(e.getKey(), read(r, e.getKey(), e.getValue()));
    }
    return models;
  }

  private static ModelRoute read(ConfigReader r, String alias, Map<String, String> f) {
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
    Protocol protocol = r.choice(at + "protocol", DEFAULT_PROTOCOL);
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
    long maxOutput =
        r.longIn(at + "max-output-tokens", GatewayConfig.DEFAULT_MAX_OUTPUT_TOKENS, 1, 10_000_000);
    String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    return new ModelRoute(alias, base, keyEnv, provider, model, maxOutput, tokenizer, protocol);
  }

  /** The fields a route is configured with, for error messages. */
  static List<String> fields() {
    return List.of(FIELDS.split("\\|"));
  }
}

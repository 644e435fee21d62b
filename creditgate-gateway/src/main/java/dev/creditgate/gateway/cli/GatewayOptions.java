package dev.creditgate.gateway.cli;

import dev.creditgate.gateway.GatewayConfig;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * How a command reaches a running gateway's admin API: its URL and admin token, given as options or
 * taken from the configuration the gateway runs with ({@code server.host}, {@code server.port},
 * {@code admin.token}, each overridden by its {@code CREDITGATE_...} variable).
 */
final class GatewayOptions {

  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description =
          "YAML config file the URL and token default from (default: ./creditgate.yaml when"
              + " present, else built-in defaults)")
  Path config;

  @Option(
      names = "--gateway-url",
      paramLabel = "URL",
      description =
          "the running gateway (default: http://<server.host>:<server.port> of the config, a"
              + " wildcard host as 127.0.0.1)")
  String gatewayUrl;

  @Option(
      names = "--admin-token",
      paramLabel = "TOKEN",
      description =
          "the admin token (default: admin.token of the config, or CREDITGATE_ADMIN_TOKEN; prefer"
              + " the variable, as options show in the process list)")
  String adminToken;

  @Option(
      names = "--timeout",
      paramLabel = "DURATION",
      defaultValue = "10s",
      converter = DurationConverter.class,
      description = "longest wait for the gateway: to connect and for its answer (default: 10s)")
  Duration timeout = DEFAULT_TIMEOUT;

  /**
   * A client of the gateway's admin API.
   *
   * @throws IllegalArgumentException when the URL is not an http(s) URL, or no token is known
   */
  AdminClient client() {
    GatewayConfig loaded = null;
    if (gatewayUrl == null || adminToken == null) {
      loaded = CreditgateCli.loadConfig(config);
    }
    String url = gatewayUrl == null ? defaultUrl(loaded) : checkedUrl(gatewayUrl);
    String token = adminToken == null ? loaded.adminToken() : adminToken.trim();
    if (token.isEmpty()) {
      throw new IllegalArgumentException(
          "no admin token: set CREDITGATE_ADMIN_TOKEN (or admin.token in the config), or give"
              + " --admin-token");
    }
    return new AdminClient(url, token, timeout);
  }

  /** The URL a gateway started with {@code config} listens on, seen from this machine. */
  static String defaultUrl(GatewayConfig config) {
    if (config.port() == 0) {
      throw new IllegalArgumentException(
          "server.port is 0 in the config (any free port): give --gateway-url");
    }
    String host = config.host();
    if (host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]") || host.isEmpty()) {
      host = "127.0.0.1";
    } else if (host.contains(":") && !host.startsWith("[")) {
      host = "[" + host + "]";
    }
    return "http://" + host + ":" + config.port();
  }

  /** {@code url} without a trailing slash, once checked to be an http(s) URL with a host. */
  static String checkedUrl(String url) {
    String trimmed = url.trim();
    while (trimmed.endsWith("/")) {
      trimmed = trimmed.substring(0, trimmed.length() - 1);
    }
    URI parsed;
    try {
      parsed = URI.create(trimmed);
    } catch (IllegalArgumentException e) {
      parsed = null;
    }
    String scheme =
        parsed == null || parsed.getScheme() == null
            ? ""
            : parsed.getScheme().toLowerCase(Locale.ROOT);
    if (parsed == null
        || !(scheme.equals("http") || scheme.equals("https"))
        || parsed.getHost() == null
        || parsed.getQuery() != null
        || parsed.getFragment() != null) {
      throw new IllegalArgumentException(
          "--gateway-url must be an http(s) URL such as http://127.0.0.1:8080, but was '"
              + url
              + "'");
    }
    return trimmed;
  }

  /** Durations as the config writes them: {@code 500ms}, {@code 10s}, {@code 1m}, {@code PT10S}. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      Duration d = GatewayConfig.parseDuration(value.trim());
      if (d == null || d.isZero() || d.isNegative()) {
        throw new CommandLine.TypeConversionException(
            "must be a positive duration like 500ms, 10s or 1m, but was '" + value + "'");
      }
      return d;
    }
  }
}

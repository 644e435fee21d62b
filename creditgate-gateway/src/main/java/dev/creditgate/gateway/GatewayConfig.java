package dev.creditgate.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Everything the gateway is configured with: one YAML file ({@code creditgate.yaml}) whose keys may
 * each be overridden by an environment variable ({@code server.port} by {@code
 * CREDITGATE_SERVER_PORT}, {@code models.pro.base-url} by {@code CREDITGATE_MODELS_PRO_BASE_URL}).
 * Every value is validated when loaded and a bad one is reported with its key and value; unknown
 * keys are errors too, so a typo never passes silently.
 *
 * <p>The defaults are the embedded ones: a SQLite ledger in {@value #DEFAULT_LEDGER_URL} and the
 * in-process cache. A {@code jdbc:postgresql:} ledger URL and a Redis URI switch to those.
 */
public record GatewayConfig(
    String host,
    int port,
    long maxBodyBytes,
    String adminToken,
    boolean demoMode,
    String ledgerUrl,
    Path spoolDir,
    int spoolCapacity,
    boolean ledgerWriteBehind,
    Duration intentSyncWait,
    String redisUri,
    String redisPrefix,
    boolean nearCache,
    Duration nearCacheTtl,
    boolean guardFailClosed,
    Duration guardCacheTimeout,
    Duration guardFetchTimeout,
    Duration guardRememberDenials,
    Duration connectTimeout,
    Duration firstByteTimeout,
    Duration idleTimeout,
    Duration probeInterval,
    Duration shutdownTimeout,
    CreditSettings credit,
    GatewayLimits limits,
    boolean metricsRequireAdminToken,
    List<String> userScenes,
    RequestLimits requestLimits,
    TelemetrySettings telemetry,
    FallbackSettings fallback,
    Map<String, ModelRoute> models) {

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8080;
  public static final long DEFAULT_MAX_BODY_BYTES = 4L * 1024 * 1024;
  public static final String DEFAULT_LEDGER_URL = "jdbc:sqlite:./data/creditgate.db";
  public static final String DEFAULT_SPOOL_DIR = "./data/spool";
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);

  /** Reasoning models can think for minutes before their first byte. */
  public static final Duration DEFAULT_FIRST_BYTE_TIMEOUT = Duration.ofSeconds(300);

  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(120);
  public static final Duration DEFAULT_PROBE_INTERVAL = Duration.ofSeconds(30);

  /**
   * How long a call's answer waits, at most, for its intent to be fsync'd before its first byte
   * (write-behind only); zero: it does not wait (the intent is still synced within milliseconds,
   * but a power loss in between can lose the call's charge).
   */
  public static final Duration DEFAULT_INTENT_SYNC_WAIT = Duration.ofSeconds(1);

  static final Duration MAX_INTENT_SYNC_WAIT = Duration.ofSeconds(60);

  /**
   * How long a stop waits for calls in flight. With up to 10 s more for the calls cut then to be
   * charged, a stop stays inside the 30 s Kubernetes gives a process before it kills it.
   */
  public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(15);

  /** The aliases that always exist, routed or not; an unrouted one answers 503. */
  public static final List<String> BUILT_IN_ALIASES = List.of("lite", "pro", "max");

  /** The alias an empty {@code model} means. */
  public static final String DEFAULT_ALIAS = "pro";

  public static final String ENV_PREFIX = "CREDITGATE_";

  /** The output cap of a call that sets none, sent to the upstream so that it enforces it. */
  public static final long DEFAULT_MAX_OUTPUT_TOKENS = 4096;

  /** The tokenizers a route may name for counting its input before a call. */
  public static final List<String> TOKENIZERS = List.of("o200k_base", "cl100k_base", "bytes");

  private static final List<String> SCALAR_KEYS =
      List.of(
          "server.host",
          "server.port",
          "server.max-body-bytes",
          "server.shutdown-timeout",
          "admin.token",
          "demo",
          "ledger.url",
          "ledger.spool-dir",
          "ledger.spool-capacity",
          "ledger.write-behind",
          "ledger.intent-sync-wait",
          "cache.redis-uri",
          "cache.redis-prefix",
          "cache.near-cache",
          "cache.near-cache-ttl",
          "guard.fail-closed",
          "guard.cache-timeout",
          "guard.fetch-timeout",
          "guard.remember-denials",
          "upstream.connect-timeout",
          "upstream.first-byte-timeout",
          "upstream.idle-timeout",
          "upstream.probe-interval",
          "upstream.max-answer-bytes",
          "upstream.max-attempts",
          "limits.stored-input-tokens",
          "upstream.fallback-deadline",
          "upstream.cooldown",
          "limits.max-n",
          "limits.max-top-logprobs",
          "credit.mode",
          "credit.shortfall",
          "credit.minimum-clamp-tokens",
          "credit.overdraft",
          "credit.hold-timeout",
          "credit.leases",
          "credit.lease-term",
          "credit.lease-slice-calls",
          "limits.max-concurrent-per-key",
          "limits.max-concurrent-per-service-key",
          "limits.max-concurrent-per-account",
          "limits.auth-failures-per-address",
          "limits.auth-failure-window",
          "limits.client-address-header",
          "metrics.require-admin-token",
          "telemetry.otlp-endpoint",
          "telemetry.trace-sample-ratio",
          "telemetry.service-name",
          "credit.unpriced-fallback-credits-per-1k-tokens",
          "keys.user-scenes");

  /** Keys whose value may be a YAML list (read as its items joined by commas). */
  private static final List<String> LIST_KEYS = List.of("keys.user-scenes");

  public GatewayConfig {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(telemetry, "telemetry");
    Objects.requireNonNull(fallback, "fallback");
    userScenes = List.copyOf(userScenes);
    models = Collections.unmodifiableMap(new LinkedHashMap<>(models));
  }

  /**
   * How the gateway meters credit.
   *
   * @param mode {@code strict} (hold each call's worst case) or {@code check} (admit while the
   *     balance is positive)
   * @param shortfall {@code reject} or {@code clamp} a call whose worst case does not fit
   * @param minimumClampTokens the smallest output cap a clamped call gets
   * @param overdraft credits an account may spend below zero in strict mode
   * @param holdTimeout how long a hold lives when its call neither settles nor ends
   * @param leases whether strict holds are placed against leases of the accounts' credit (so that
   *     several gateway processes sharing the ledger never together hold more than an account has)
   * @param leaseTerm how long a lease lasts unless renewed
   * @param leaseSliceCalls how many worst-case calls a lease grows by
   * @param unpricedFallbackCreditsPer1kTokens check mode: what a call no price rule prices is
   *     charged, per 1,000 of its tokens; 0: such a call is refused
   */
  public record CreditSettings(
      dev.creditgate.meter.CreditMode mode,
      dev.creditgate.meter.ShortfallPolicy shortfall,
      long minimumClampTokens,
      long overdraft,
      Duration holdTimeout,
      LeaseUse leases,
      Duration leaseTerm,
      long leaseSliceCalls,
      long unpricedFallbackCreditsPer1kTokens) {

    /** The settings with the default lease options. */
    public CreditSettings(
        dev.creditgate.meter.CreditMode mode,
        dev.creditgate.meter.ShortfallPolicy shortfall,
        long minimumClampTokens,
        long overdraft,
        Duration holdTimeout) {
      this(
          mode,
          shortfall,
          minimumClampTokens,
          overdraft,
          holdTimeout,
          LeaseUse.AUTO,
          dev.creditgate.ledger.LedgerCreditMeter.DEFAULT_LEASE_TERM,
          dev.creditgate.ledger.LedgerCreditMeter.DEFAULT_LEASE_SLICE_CALLS,
          0);
    }
  }

  /**
   * Bounds on what one call may make the gateway hold.
   *
   * @param maxChoices the most choices ({@code n}) a request may ask for
   * @param maxTopLogprobs the most {@code top_logprobs} a request may ask for
   * @param maxAnswerBytes a plain answer larger than this is not read (502, charged its worst case)
   * @param storedInputTokens the input a call that makes the provider add stored turns (a Responses
   *     call naming a previous response, a conversation or a stored prompt) is held for, at least
   */
  public record RequestLimits(
      long maxChoices, long maxTopLogprobs, long maxAnswerBytes, long storedInputTokens) {

    public static final long DEFAULT_STORED_INPUT_TOKENS = 200_000;

    /** Limits with the default bound of stored input. */
    public RequestLimits(long maxChoices, long maxTopLogprobs, long maxAnswerBytes) {
      this(maxChoices, maxTopLogprobs, maxAnswerBytes, DEFAULT_STORED_INPUT_TOKENS);
    }

    public static final long DEFAULT_MAX_CHOICES = 8;
    public static final long DEFAULT_MAX_TOP_LOGPROBS = 20;
    public static final long DEFAULT_MAX_ANSWER_BYTES = 64L * 1024 * 1024;

    static RequestLimits read(ConfigReader r) {
      return new RequestLimits(
          r.longIn("limits.max-n", DEFAULT_MAX_CHOICES, 1, 128),
          r.longIn("limits.max-top-logprobs", DEFAULT_MAX_TOP_LOGPROBS, 0, 20),
          r.longIn("upstream.max-answer-bytes", DEFAULT_MAX_ANSWER_BYTES, 1024, 1L << 30),
          r.longIn("limits.stored-input-tokens", DEFAULT_STORED_INPUT_TOKENS, 0, 100_000_000));
    }
  }

  /**
   * Whether strict holds lease credit: {@code auto} leases on a PostgreSQL ledger (which several
   * gateway processes may share) and holds against the account's snapshot on SQLite (one process).
   */
  public enum LeaseUse {
    AUTO,
    ON,
    OFF
  }

  /** The defaults with no file and no environment. */
  public static GatewayConfig defaults() {
    return fromProperties(Map.of(), Map.of());
  }

  /**
   * Reads {@code file} (may be null: defaults only) and applies the {@code CREDITGATE_...}
   * variables of {@code env}.
   *
   * @throws ConfigException naming the bad key and value
   */
  public static GatewayConfig load(Path file, Map<String, String> env) {
    Map<String, String> props = new TreeMap<>();
    if (file != null) {
      if (!Files.isRegularFile(file)) {
        throw new ConfigException("config file " + file + " does not exist or is not a file");
      }
      try {
        JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
        if (root != null && !root.isMissingNode() && !root.isNull()) {
          if (!root.isObject()) {
            throw new ConfigException(
                "config file " + file + " must hold a YAML mapping at the top level");
          }
          flatten("", root, props);
        }
      } catch (IOException e) {
        throw new ConfigException(
            "config file " + file + " is not valid YAML: " + firstLine(e.getMessage()));
      }
    }
    return fromProperties(props, env);
  }

  /** Builds the config from flat dotted keys ({@code server.port}) and the environment. */
  public static GatewayConfig fromProperties(
      Map<String, String> fileProps, Map<String, String> env) {
    Map<String, String> props = new TreeMap<>(fileProps);
    for (String key : SCALAR_KEYS) {
      String value = env.get(envName(key));
      if (value != null) {
        props.put(key, value);
      }
    }
    for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
      String key = ModelRoute.keyOfEnv(e.getKey());
      if (key != null) {
        props.put(key, e.getValue());
      }
    }
    for (String key : props.keySet()) {
      if (!SCALAR_KEYS.contains(key) && !ModelRoute.isKey(key)) {
        throw new ConfigException(
            "unknown config key '"
                + key
                + "'; known keys: "
                + String.join(", ", SCALAR_KEYS)
                + ", "
                + ModelRoute.keysHelp());
      }
    }
    ConfigReader r = new ConfigReader(props);
    boolean demo = r.bool("demo", false);
    String adminToken = r.string("admin.token", "");
    if (!adminToken.isEmpty() && adminToken.length() < 16) {
      throw new ConfigException(
          "admin.token must be at least 16 characters, but was "
              + adminToken.length()
              + " characters long");
    }
    String ledgerUrl = r.string("ledger.url", DEFAULT_LEDGER_URL);
    if (!ledgerUrl.startsWith("jdbc:sqlite:") && !ledgerUrl.startsWith("jdbc:postgresql:")) {
      throw new ConfigException(
          "ledger.url must start with jdbc:sqlite: or jdbc:postgresql:, but was '"
              + redactUrl(ledgerUrl)
              + "'");
    }
    String redisUri = r.string("cache.redis-uri", "");
    if (!redisUri.isEmpty()
        && !redisUri.startsWith("redis://")
        && !redisUri.startsWith("rediss://")) {
      throw new ConfigException(
          "cache.redis-uri must start with redis:// or rediss://, but was '"
              + redactUrl(redisUri)
              + "'");
    }
    Map<String, ModelRoute> models = ModelRoute.read(r);
    return new GatewayConfig(
        r.string("server.host", DEFAULT_HOST),
        (int) r.longIn("server.port", DEFAULT_PORT, 0, 65535),
        r.longIn("server.max-body-bytes", DEFAULT_MAX_BODY_BYTES, 1024, 1L << 30),
        adminToken,
        demo,
        ledgerUrl,
        Path.of(r.string("ledger.spool-dir", DEFAULT_SPOOL_DIR)),
        (int)
            r.longIn(
                "ledger.spool-capacity",
                dev.creditgate.ledger.jdbc.LedgerOptions.DEFAULT_SPOOL_CAPACITY,
                1,
                50_000_000),
        r.bool("ledger.write-behind", true),
        intentSyncWait(r.durationOrZero("ledger.intent-sync-wait", DEFAULT_INTENT_SYNC_WAIT)),
        redisUri,
        redisPrefix(r.string("cache.redis-prefix", "creditgate")),
        r.bool("cache.near-cache", false),
        r.duration(
            "cache.near-cache-ttl", dev.creditgate.redis.RedisCreditCache.DEFAULT_NEAR_CACHE_TTL),
        r.bool("guard.fail-closed", false),
        r.duration("guard.cache-timeout", dev.creditgate.CreditBalanceGuard.DEFAULT_CACHE_TIMEOUT),
        r.duration("guard.fetch-timeout", dev.creditgate.CreditBalanceGuard.DEFAULT_FETCH_TIMEOUT),
        r.durationOrZero(
            "guard.remember-denials", dev.creditgate.CreditBalanceGuard.DEFAULT_REMEMBER_DENIALS),
        r.duration("upstream.connect-timeout", DEFAULT_CONNECT_TIMEOUT),
        r.duration("upstream.first-byte-timeout", DEFAULT_FIRST_BYTE_TIMEOUT),
        r.duration("upstream.idle-timeout", DEFAULT_IDLE_TIMEOUT),
        r.duration("upstream.probe-interval", DEFAULT_PROBE_INTERVAL),
        r.duration("server.shutdown-timeout", DEFAULT_SHUTDOWN_TIMEOUT),
        new CreditSettings(
            r.choice("credit.mode", dev.creditgate.meter.CreditMode.STRICT),
            r.choice("credit.shortfall", dev.creditgate.meter.ShortfallPolicy.REJECT),
            r.longIn(
                "credit.minimum-clamp-tokens",
                dev.creditgate.ledger.LedgerCreditMeter.DEFAULT_MINIMUM_CLAMP_TOKENS,
                1,
                10_000_000),
            r.longIn("credit.overdraft", 0, 0, dev.creditgate.ledger.LedgerChecks.MAX_AMOUNT),
            r.duration(
                "credit.hold-timeout",
                dev.creditgate.ledger.LedgerCreditMeter.DEFAULT_HOLD_TIMEOUT),
            r.choice("credit.leases", LeaseUse.AUTO),
            leaseTerm(
                r.duration(
                    "credit.lease-term",
                    dev.creditgate.ledger.LedgerCreditMeter.DEFAULT_LEASE_TERM)),
            r.longIn(
                "credit.lease-slice-calls",
                dev.creditgate.ledger.LedgerCreditMeter.DEFAULT_LEASE_SLICE_CALLS,
                1,
                1_000_000),
            r.longIn(
                "credit.unpriced-fallback-credits-per-1k-tokens",
                0,
                0,
                dev.creditgate.ledger.jdbc.LedgerOptions.MAX_UNPRICED_FALLBACK)),
        GatewayLimits.read(r),
        r.bool("metrics.require-admin-token", false),
        r.names("keys.user-scenes", 200),
        RequestLimits.read(r),
        TelemetrySettings.read(r),
        FallbackSettings.read(r),
        models);
  }

  private static Duration leaseTerm(Duration term) {
    if (term.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new ConfigException(
          "credit.lease-term must be at least 1s, but was " + term.toMillis() + "ms");
    }
    return term;
  }

  private static Duration intentSyncWait(Duration wait) {
    if (wait.compareTo(MAX_INTENT_SYNC_WAIT) > 0) {
      throw new ConfigException(
          "ledger.intent-sync-wait must be at most "
              + MAX_INTENT_SYNC_WAIT.toSeconds()
              + "s, but was "
              + wait.toMillis()
              + "ms");
    }
    return wait;
  }

  private static String redisPrefix(String prefix) {
    if (!prefix.matches("[A-Za-z0-9._:@-]{1,64}")) {
      throw new ConfigException(
          "cache.redis-prefix must be 1-64 characters of [A-Za-z0-9._:@-], but was '"
              + prefix
              + "'");
    }
    return prefix;
  }

  /** The environment variable that overrides {@code key}. */
  public static String envName(String key) {
    return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  /** Every alias a caller may name: the built-in ones and the configured ones. */
  public List<String> aliases() {
    java.util.LinkedHashSet<String> all = new java.util.LinkedHashSet<>(BUILT_IN_ALIASES);
    all.addAll(models.keySet());
    return List.copyOf(all);
  }

  /** The same config with other model routes. */
  public GatewayConfig withModels(Map<String, ModelRoute> newModels) {
    return new GatewayConfig(
        host,
        port,
        maxBodyBytes,
        adminToken,
        demoMode,
        ledgerUrl,
        spoolDir,
        spoolCapacity,
        ledgerWriteBehind,
        intentSyncWait,
        redisUri,
        redisPrefix,
        nearCache,
        nearCacheTtl,
        guardFailClosed,
        guardCacheTimeout,
        guardFetchTimeout,
        guardRememberDenials,
        connectTimeout,
        firstByteTimeout,
        idleTimeout,
        probeInterval,
        shutdownTimeout,
        credit,
        limits,
        metricsRequireAdminToken,
        userScenes,
        requestLimits,
        telemetry,
        fallback,
        newModels);
  }

  /** Hides a password in a JDBC or Redis URL so it can be shown in an error or a log line. */
  public static String redactUrl(String url) {
    if (url == null) {
      return null;
    }
    return url.replaceAll("(?i)(password=)[^&;]*", "$1***")
        .replaceAll("(//[^:/@]*:)[^@/]*@", "$1***@");
  }

  @Override
  public String toString() {
    return "GatewayConfig[host="
        + host
        + ", port="
        + port
        + ", ledgerUrl="
        + redactUrl(ledgerUrl)
        + ", redis="
        + (redisUri.isEmpty()
            ? "in-process"
            : redactUrl(redisUri) + (nearCache ? " + near cache" : ""))
        + ", demo="
        + demoMode
        + ", models="
        + models.keySet()
        + "]";
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static void flatten(String prefix, JsonNode node, Map<String, String> out) {
    if (node.isObject()) {
      for (Map.Entry<String, JsonNode> e : node.properties()) {
        flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out);
      }
    } else if (node.isArray() && prefix.startsWith("models.") && prefix.endsWith(".upstreams")) {
      // An alias's further upstreams: models.<alias>.upstreams.<index>.<field>.
      for (int i = 0; i < node.size(); i++) {
        if (!node.get(i).isObject()) {
          throw new ConfigException(prefix + "[" + i + "] must be a map of an upstream's fields");
        }
        flatten(prefix + "." + i, node.get(i), out);
      }
    } else if (node.isArray() && LIST_KEYS.contains(prefix)) {
      List<String> items = new java.util.ArrayList<>();
      for (JsonNode item : node) {
        if (!item.isValueNode() || item.asText().contains(",")) {
          throw new ConfigException(prefix + " must be a list of names without commas");
        }
        items.add(item.asText());
      }
      out.put(prefix, String.join(",", items));
    } else if (node.isArray()) {
      throw new ConfigException(prefix + " must not be a list");
    } else if (!node.isNull()) {
      out.put(prefix, node.asText());
    }
  }

  /**
   * A duration as the config writes it: {@code 250ms}, {@code 5s}, {@code 2m}, {@code 1h} or
   * ISO-8601 ({@code PT5S}); null when {@code v} is none of those.
   */
  public static Duration parseDuration(String v) {
    Matcher m = Pattern.compile("(-?\\d{1,9})(ms|s|m|h)").matcher(v);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        default -> Duration.ofHours(n);
      };
    }
    try {
      return Duration.parse(v);
    } catch (RuntimeException e) {
      return null;
    }
  }
}

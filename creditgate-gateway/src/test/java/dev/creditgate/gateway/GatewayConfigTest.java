package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GatewayConfigTest {

  @TempDir Path tmp;

  @Test
  void defaultsAreTheEmbeddedOnes() {
    GatewayConfig c = GatewayConfig.defaults();
    assertThat(c.ledgerUrl()).isEqualTo("jdbc:sqlite:./data/creditgate.db");
    assertThat(c.redisUri()).isEmpty();
    assertThat(c.maxBodyBytes()).isEqualTo(4L * 1024 * 1024);
    assertThat(c.aliases()).containsExactly("lite", "pro", "max");
    assertThat(c.models()).isEmpty();
    assertThat(c.intentSyncWait()).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void yamlFileWithEnvironmentOverrides() throws Exception {
    Path file = tmp.resolve("creditgate.yaml");
    Files.writeString(
        file,
        """
        server:
          port: 9000
          max-body-bytes: 1048576
        ledger:
          url: jdbc:postgresql://db:5432/creditgate?user=cg&password=hunter2
        cache:
          redis-uri: redis://cache:6379
        upstream:
          first-byte-timeout: 90s
          idle-timeout: 500ms
        models:
          pro:
            base-url: https://api.openai.com/v1/
            api-key-env: OPENAI_API_KEY
            model: gpt-4o
          cheap:
            base-url: http://localhost:11434/v1
            provider: ollama
            model: llama3
        """);
    GatewayConfig c =
        GatewayConfig.load(
            file,
            Map.of(
                "CREDITGATE_SERVER_PORT",
                "9100",
                "CREDITGATE_MODELS_PRO_MODEL",
                "gpt-4.1",
                "CREDITGATE_ADMIN_TOKEN",
                "0123456789abcdef0123"));
    assertThat(c.port()).isEqualTo(9100);
    assertThat(c.maxBodyBytes()).isEqualTo(1048576);
    assertThat(c.adminToken()).isEqualTo("0123456789abcdef0123");
    assertThat(c.redisUri()).isEqualTo("redis://cache:6379");
    assertThat(c.firstByteTimeout()).isEqualTo(Duration.ofSeconds(90));
    assertThat(c.idleTimeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(c.models().get("pro").model()).isEqualTo("gpt-4.1");
    assertThat(c.models().get("pro").baseUrl()).isEqualTo("https://api.openai.com/v1");
    assertThat(c.models().get("pro").provider()).isEqualTo("openai");
    assertThat(c.models().get("cheap").provider()).isEqualTo("ollama");
    assertThat(c.aliases()).containsExactly("lite", "pro", "max", "cheap");
    assertThat(c.toString()).doesNotContain("hunter2");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "server.port|70000|server.port must be between 0 and 65535, but was 70000",
        "server.port|eighty|server.port must be an integer, but was 'eighty'",
        "server.max-body-bytes|12|server.max-body-bytes must be between 1024",
        "upstream.idle-timeout|soon|upstream.idle-timeout must be a duration like 250ms, 5s, 2m or PT5S, but was 'soon'",
        "upstream.connect-timeout|0s|upstream.connect-timeout must be positive, but was '0s'",
        "ledger.intent-sync-wait|-1s|ledger.intent-sync-wait must be zero or positive, but was '-1s'",
        "ledger.intent-sync-wait|2m|ledger.intent-sync-wait must be at most 60s, but was 120000ms",
        "guard.fail-closed|perhaps|guard.fail-closed must be true or false, but was 'perhaps'",
        "ledger.url|jdbc:mysql://x|ledger.url must start with jdbc:sqlite: or jdbc:postgresql:, but was 'jdbc:mysql://x'",
        "cache.redis-uri|http://x|cache.redis-uri must start with redis:// or rediss://, but was 'http://x'",
        "admin.token|short|admin.token must be at least 16 characters",
        "server.prot|80|unknown config key 'server.prot'",
        "models.pro.base-url|ftp://x|models.pro.base-url must be an http(s) URL with a host, but was 'ftp://x'",
        "models.Pro!.base-url|http://x|alias must be 1-64 characters",
        "limits.max-concurrent-per-key|-1|limits.max-concurrent-per-key must be between 0 and 1000000, but was -1",
        "limits.max-concurrent-per-account|many|limits.max-concurrent-per-account must be an integer, but was 'many'",
        "limits.auth-failures-per-address|-5|limits.auth-failures-per-address must be between 0 and 1000000, but was -5",
        "limits.auth-failure-window|500ms|limits.auth-failure-window must be between 1s and 1d, but was 500ms",
        "limits.client-address-header|X Forwarded|limits.client-address-header must be a header name (1-64 of [A-Za-z0-9-]), but was 'X Forwarded'",
        "credit.unpriced-fallback-credits-per-1k-tokens|-1|credit.unpriced-fallback-credits-per-1k-tokens must be between 0 and 1000000000, but was -1",
        "limits.max-n|129|limits.max-n must be between 1 and 128, but was 129",
        "limits.max-top-logprobs|21|limits.max-top-logprobs must be between 0 and 20, but was 21",
        "upstream.max-answer-bytes|10|upstream.max-answer-bytes must be between 1024",
        "keys.user-scenes|a,,b|keys.user-scenes must be a list of names of 1-200 printable ASCII characters, but was 'a,,b'"
      })
  void badValuesAreRejectedNamingKeyAndValue(String key, String value, String message) {
    Map<String, String> props = new java.util.HashMap<>(Map.of(key, value));
    if (key.startsWith("models.") && !key.endsWith(".model")) {
      props.put(key.substring(0, key.lastIndexOf('.')) + ".model", "m");
    }
    assertThatThrownBy(() -> GatewayConfig.fromProperties(props, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(message);
  }

  @Test
  void creditIsStrictByDefaultAndItsSettingsAreRead() {
    GatewayConfig.CreditSettings defaults = GatewayConfig.defaults().credit();
    assertThat(defaults.mode()).isEqualTo(dev.creditgate.meter.CreditMode.STRICT);
    assertThat(defaults.shortfall()).isEqualTo(dev.creditgate.meter.ShortfallPolicy.REJECT);
    assertThat(defaults.overdraft()).isZero();
    GatewayConfig.CreditSettings set =
        GatewayConfig.fromProperties(
                Map.of(
                    "credit.mode", "check",
                    "credit.shortfall", "clamp",
                    "credit.minimum-clamp-tokens", "64",
                    "credit.overdraft", "500",
                    "credit.hold-timeout", "2m",
                    "credit.leases", "on",
                    "credit.lease-term", "45s",
                    "credit.lease-slice-calls", "3",
                    "credit.unpriced-fallback-credits-per-1k-tokens", "40"),
                Map.of())
            .credit();
    assertThat(set)
        .isEqualTo(
            new GatewayConfig.CreditSettings(
                dev.creditgate.meter.CreditMode.CHECK,
                dev.creditgate.meter.ShortfallPolicy.CLAMP,
                64,
                500,
                Duration.ofMinutes(2),
                GatewayConfig.LeaseUse.ON,
                Duration.ofSeconds(45),
                3,
                40));
    assertThat(defaults.unpricedFallbackCreditsPer1kTokens()).isZero();
    assertThat(GatewayConfig.defaults().credit().leases()).isEqualTo(GatewayConfig.LeaseUse.AUTO);
    assertThatThrownBy(
            () -> GatewayConfig.fromProperties(Map.of("credit.lease-term", "500ms"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("credit.lease-term must be at least 1s, but was 500ms");
    assertThatThrownBy(() -> GatewayConfig.fromProperties(Map.of("credit.mode", "loose"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("credit.mode must be one of strict, check, but was 'loose'");
  }

  @Test
  void limitsHaveDefaultsAndAreRead() {
    assertThat(GatewayConfig.defaults().requestLimits())
        .isEqualTo(new GatewayConfig.RequestLimits(8, 20, 64L * 1024 * 1024));
    assertThat(
            GatewayConfig.fromProperties(
                    Map.of(
                        "limits.max-n", "2",
                        "limits.max-top-logprobs", "0",
                        "upstream.max-answer-bytes", "1048576"),
                    Map.of())
                .requestLimits())
        .isEqualTo(new GatewayConfig.RequestLimits(2, 0, 1048576));
  }

  @Test
  void userScenesAreNoneByDefaultAndReadFromAYamlListOrACommaSeparatedValue() throws Exception {
    assertThat(GatewayConfig.defaults().userScenes()).isEmpty();
    Path file = tmp.resolve("scenes.yaml");
    Files.writeString(
        file,
        """
        keys:
          user-scenes: [support, " search "]
        """);
    assertThat(GatewayConfig.load(file, Map.of()).userScenes())
        .containsExactly("support", "search");
    assertThat(GatewayConfig.load(file, Map.of("CREDITGATE_KEYS_USER_SCENES", "chat")).userScenes())
        .containsExactly("chat");
    Files.writeString(file, "keys:\n  user-scenes: [\"a,b\"]\n");
    assertThatThrownBy(() -> GatewayConfig.load(file, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("keys.user-scenes must be a list of names without commas");
    Files.writeString(file, "server:\n  port: [1, 2]\n");
    assertThatThrownBy(() -> GatewayConfig.load(file, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("server.port must not be a list");
  }

  @Test
  void aRouteHasAnOutputCapAndATokenizer() {
    Map<String, String> route = Map.of("models.pro.base-url", "http://x", "models.pro.model", "m");
    ModelRoute plain = GatewayConfig.fromProperties(route, Map.of()).models().get("pro");
    assertThat(plain.maxOutputTokens()).isEqualTo(GatewayConfig.DEFAULT_MAX_OUTPUT_TOKENS);
    assertThat(plain.tokenizer()).isEqualTo("o200k_base");
    Map<String, String> other = new java.util.HashMap<>(route);
    other.put("models.pro.provider", "anthropic");
    other.put("models.pro.max-output-tokens", "800");
    ModelRoute set = GatewayConfig.fromProperties(other, Map.of()).models().get("pro");
    assertThat(set.tokenizer()).as("an unknown tokenizer's bound").isEqualTo("bytes");
    assertThat(set.maxOutputTokens()).isEqualTo(800);
    other.put("models.pro.tokenizer", "sentencepiece");
    assertThatThrownBy(() -> GatewayConfig.fromProperties(other, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "models.pro.tokenizer must be one of o200k_base, cl100k_base, bytes, but was"
                + " 'sentencepiece'");
    other.put("models.pro.tokenizer", "bytes");
    other.put("models.pro.max-output-tokens", "0");
    assertThatThrownBy(() -> GatewayConfig.fromProperties(other, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("models.pro.max-output-tokens must be between 1 and 10000000, but was 0");
  }

  @Test
  void environmentValuesAreValidatedToo() {
    assertThatThrownBy(
            () -> GatewayConfig.fromProperties(Map.of(), Map.of("CREDITGATE_SERVER_PORT", "-1")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("server.port must be between 0 and 65535, but was -1");
  }

  @Test
  void modelWithoutModelNameIsRejected() {
    assertThatThrownBy(
            () -> GatewayConfig.fromProperties(Map.of("models.pro.base-url", "http://x"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("models.pro.model is required, but was missing or empty");
  }

  @Test
  void malformedYamlNamesTheFile() throws Exception {
    Path file = tmp.resolve("bad.yaml");
    Files.writeString(file, "server: [port: 1\n");
    assertThatThrownBy(() -> GatewayConfig.load(file, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("bad.yaml");
  }

  @Test
  void nearCacheIsOffByDefaultAndBothItsKeysCanBeSet() {
    GatewayConfig c = GatewayConfig.defaults();
    assertThat(c.nearCache()).isFalse();
    assertThat(c.nearCacheTtl()).isEqualTo(java.time.Duration.ofSeconds(1));
    assertThat(c.shutdownTimeout()).isEqualTo(java.time.Duration.ofSeconds(15));
    GatewayConfig set =
        GatewayConfig.fromProperties(
            Map.of("cache.near-cache-ttl", "250ms", "server.shutdown-timeout", "5s"),
            Map.of("CREDITGATE_CACHE_NEAR_CACHE", "true"));
    assertThat(set.nearCache()).isTrue();
    assertThat(set.nearCacheTtl()).isEqualTo(java.time.Duration.ofMillis(250));
    assertThat(set.shutdownTimeout()).isEqualTo(java.time.Duration.ofSeconds(5));
    assertThatThrownBy(
            () -> GatewayConfig.fromProperties(Map.of("cache.near-cache-ttl", "0s"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("cache.near-cache-ttl must be positive, but was '0s'");
  }

  @Test
  void rememberDenialsDefaultsToThirtySecondsAndZeroTurnsItOff() {
    assertThat(GatewayConfig.defaults().guardRememberDenials())
        .isEqualTo(java.time.Duration.ofSeconds(30));
    assertThat(
            GatewayConfig.fromProperties(Map.of("guard.remember-denials", "0s"), Map.of())
                .guardRememberDenials())
        .isZero();
    assertThat(
            GatewayConfig.fromProperties(
                    Map.of(), Map.of("CREDITGATE_GUARD_REMEMBER_DENIALS", "2m"))
                .guardRememberDenials())
        .isEqualTo(java.time.Duration.ofMinutes(2));
    assertThatThrownBy(
            () -> GatewayConfig.fromProperties(Map.of("guard.remember-denials", "-1s"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("guard.remember-denials must be zero or positive, but was '-1s'");
    assertThatThrownBy(
            () -> GatewayConfig.fromProperties(Map.of("guard.remember-denials", "soon"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "guard.remember-denials must be a duration like 250ms, 5s, 2m or PT5S, but was 'soon'");
  }

  @Test
  void concurrencyLimitsHaveDefaultsAUserNeverMeetsAndCanBeSetOrTurnedOff() {
    GatewayLimits defaults = GatewayConfig.defaults().limits();
    assertThat(defaults.maxConcurrentPerKey()).isEqualTo(64);
    assertThat(defaults.maxConcurrentPerServiceKey()).isZero();
    assertThat(defaults.maxConcurrentPerAccount()).isEqualTo(128);
    GatewayLimits set =
        GatewayConfig.fromProperties(
                Map.of(
                    "limits.max-concurrent-per-key", "0", "limits.max-concurrent-per-account", "7"),
                Map.of("CREDITGATE_LIMITS_MAX_CONCURRENT_PER_SERVICE_KEY", "500"))
            .limits();
    assertThat(set).isEqualTo(new GatewayLimits(0, 500, 7));
  }

  @Test
  void failedAuthenticationLimitsHaveDefaultsAndCanBeSet() {
    GatewayLimits defaults = GatewayConfig.defaults().limits();
    assertThat(defaults.authFailuresPerAddress()).isEqualTo(20);
    assertThat(defaults.authFailureWindow()).isEqualTo(Duration.ofMinutes(1));
    assertThat(defaults.clientAddressHeader()).isEmpty();
    GatewayLimits set =
        GatewayConfig.fromProperties(
                Map.of(
                    "limits.auth-failures-per-address", "0",
                    "limits.client-address-header", "X-Forwarded-For"),
                Map.of("CREDITGATE_LIMITS_AUTH_FAILURE_WINDOW", "10m"))
            .limits();
    assertThat(set.authFailuresPerAddress()).isZero();
    assertThat(set.authFailureWindow()).isEqualTo(Duration.ofMinutes(10));
    assertThat(set.clientAddressHeader()).isEqualTo("X-Forwarded-For");
  }

  @Test
  void metricsNeedNoTokenUnlessConfigured() {
    assertThat(GatewayConfig.defaults().metricsRequireAdminToken()).isFalse();
    assertThat(
            GatewayConfig.fromProperties(
                    Map.of(), Map.of("CREDITGATE_METRICS_REQUIRE_ADMIN_TOKEN", "true"))
                .metricsRequireAdminToken())
        .isTrue();
    assertThatThrownBy(
            () ->
                GatewayConfig.fromProperties(
                    Map.of("metrics.require-admin-token", "maybe"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("metrics.require-admin-token must be true or false, but was 'maybe'");
  }
}

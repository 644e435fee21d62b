package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An alias's protocol, its several upstreams and how they are tried, as configured. */
class ModelRouteConfigTest {

  @TempDir Path tmp;

  @Test
  void anAliasListsFurtherUpstreamsEachWithItsOwnProviderModelKeyAndWeight() throws Exception {
    Path file = tmp.resolve("creditgate.yaml");
    Files.writeString(
        file,
        """
        upstream:
          max-attempts: 2
          fallback-deadline: 10s
          cooldown: 1m
        models:
          pro:
            routing: weighted
            max-output-tokens: 2000
            base-url: https://api.openai.com/v1
            api-key-env: OPENAI_API_KEY
            model: gpt-4o
            weight: 3
            upstreams:
              - name: azure
                base-url: https://example.openai.azure.com/openai/v1/
                provider: azure
                model: gpt-4o-azure
                api-key-env: AZURE_KEY
              - base-url: http://localhost:11434/v1
                provider: ollama
                model: llama3
                weight: 0
          claude:
            protocol: anthropic
            base-url: https://api.anthropic.com/v1
            model: claude-sonnet-4-5
        """);
    GatewayConfig c =
        GatewayConfig.load(
            file,
            Map.of(
                "CREDITGATE_ADMIN_TOKEN",
                "0123456789abcdef0123",
                "CREDITGATE_MODELS_PRO_UPSTREAMS_0_MODEL",
                "gpt-4o-2",
                "CREDITGATE_MODELS_PRO_UPSTREAMS_1_MODEL",
                "llama3.1"));
    ModelRoute pro = c.models().get("pro");
    assertThat(pro.routing()).isEqualTo(ModelRoute.Routing.WEIGHTED);
    List<ModelRoute> upstreams = pro.upstreams();
    assertThat(upstreams).extracting(ModelRoute::name).containsExactly("pro#0", "azure", "pro#2");
    assertThat(upstreams)
        .extracting(ModelRoute::provider)
        .containsExactly("openai", "azure", "ollama");
    assertThat(upstreams)
        .extracting(ModelRoute::model)
        .containsExactly("gpt-4o", "gpt-4o-2", "llama3.1");
    assertThat(upstreams).extracting(ModelRoute::weight).containsExactly(3, 1, 0);
    assertThat(upstreams).extracting(ModelRoute::maxOutputTokens).containsOnly(2000L);
    assertThat(upstreams.get(1).baseUrl()).isEqualTo("https://example.openai.azure.com/openai/v1");
    assertThat(upstreams.get(1).apiKeyEnv()).isEqualTo("AZURE_KEY");
    assertThat(upstreams.get(2).tokenizer()).isEqualTo("bytes");
    ModelRoute claude = c.models().get("claude");
    assertThat(claude.protocol()).isEqualTo(Protocol.ANTHROPIC);
    assertThat(claude.provider()).isEqualTo("anthropic");
    assertThat(claude.upstreams()).hasSize(1);
    assertThat(c.fallback())
        .isEqualTo(new FallbackSettings(2, Duration.ofSeconds(10), Duration.ofMinutes(1)));
    assertThat(GatewayConfig.defaults().fallback()).isEqualTo(FallbackSettings.DEFAULTS);
  }

  @Test
  void anAliasMayListAllItsUpstreamsUnderUpstreams() {
    Map<String, String> p = new HashMap<>();
    p.put("models.pro.upstreams.0.base-url", "http://a:1/v1");
    p.put("models.pro.upstreams.0.model", "m-a");
    p.put("models.pro.upstreams.1.base-url", "http://b:1/v1");
    p.put("models.pro.upstreams.1.model", "m-b");
    ModelRoute pro = GatewayConfig.fromProperties(p, Map.of()).models().get("pro");
    assertThat(pro.upstreams()).extracting(ModelRoute::model).containsExactly("m-a", "m-b");
    assertThat(pro.upstreams()).extracting(ModelRoute::name).containsExactly("pro#0", "pro#1");
    assertThat(pro.routing()).isEqualTo(ModelRoute.Routing.ORDER);
  }

  @Test
  void badUpstreamsStopTheStartNamingTheKey() {
    assertError(
        Map.of("models.pro.upstreams.0.model", "m"), "models.pro.upstreams.0.base-url is required");
    assertError(
        Map.of(
            "models.pro.base-url", "http://a:1/v1",
            "models.pro.model", "m",
            "models.pro.upstreams.0.base-url", "http://b:1/v1",
            "models.pro.upstreams.0.model", "m",
            "models.pro.upstreams.0.weight", "1001"),
        "models.pro.upstreams.0.weight");
    assertError(
        Map.of(
            "models.pro.base-url", "http://a:1/v1",
            "models.pro.model", "m",
            "models.pro.name", "same",
            "models.pro.upstreams.0.base-url", "http://b:1/v1",
            "models.pro.upstreams.0.model", "m",
            "models.pro.upstreams.0.name", "same"),
        "two upstreams are named 'same'");
    assertError(
        Map.of(
            "models.pro.base-url",
            "http://a:1/v1",
            "models.pro.model",
            "m",
            "models.pro.routing",
            "random"),
        "models.pro.routing must be one of order, weighted");
    assertError(
        Map.of(
            "models.pro.base-url",
            "http://a:1/v1",
            "models.pro.model",
            "m",
            "models.pro.protocol",
            "grpc"),
        "models.pro.protocol must be one of openai, anthropic");
    Map<String, String> many = new HashMap<>();
    for (int i = 0; i < ModelRoute.MAX_UPSTREAMS + 1; i++) {
      many.put("models.pro.upstreams." + i + ".base-url", "http://h" + i + ":1/v1");
      many.put("models.pro.upstreams." + i + ".model", "m");
    }
    assertError(many, "at most " + ModelRoute.MAX_UPSTREAMS);
    assertError(Map.of("upstream.max-attempts", "0"), "upstream.max-attempts");
  }

  private static void assertError(Map<String, String> props, String message) {
    assertThatThrownBy(() -> GatewayConfig.fromProperties(props, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(message);
  }
}

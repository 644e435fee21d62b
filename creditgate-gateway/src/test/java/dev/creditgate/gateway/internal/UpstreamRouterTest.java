package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.GatewayConfig;
import dev.creditgate.gateway.ModelRoute;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UpstreamRouterTest {

  @Test
  void anAliasWithoutItsApiKeyStaysUnreadyWhileItsHostAnswersAndTheOthersBecomeReady()
      throws Exception {
    try (ServerSocket host = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      String url = "http://127.0.0.1:" + host.getLocalPort() + "/v1";
      GatewayConfig config =
          GatewayConfig.fromProperties(
              Map.of(
                  "models.pro.base-url",
                  url,
                  "models.pro.model",
                  "m",
                  "models.pro.api-key-env",
                  "PRO_KEY",
                  "models.lite.base-url",
                  url,
                  "models.lite.model",
                  "m",
                  "models.lite.api-key-env",
                  "LITE_KEY"),
              Map.of());
      UpstreamRouter router = new UpstreamRouter(config, Map.of("LITE_KEY", " sk-lite "));
      router.probeAll();

      assertThat(router.ready("lite")).isTrue();
      assertThat(router.resolve("lite").apiKey()).isEqualTo("sk-lite");
      assertThat(router.ready("pro")).isFalse();
      assertThat(router.problems()).containsEntry("pro", "the API key variable PRO_KEY is not set");
      assertThatThrownBy(() -> router.resolve("pro"))
          .isInstanceOf(ApiError.class)
          .extracting(e -> ((ApiError) e).code())
          .isEqualTo("runtime_not_ready");
    }
  }

  @Test
  void apiKeyIsReadFromTheNamedVariable() throws Exception {
    ModelRoute none = new ModelRoute("pro", "http://127.0.0.1:1/v1", "", "p", "m");
    ModelRoute keyed = new ModelRoute("pro", "http://127.0.0.1:1/v1", "PRO_KEY", "p", "m");
    assertThat(UpstreamRouter.apiKey(none, Map.of())).isEmpty();
    assertThat(UpstreamRouter.apiKey(keyed, Map.of("PRO_KEY", "sk-1\n"))).isEqualTo("sk-1");
    assertThatThrownBy(() -> UpstreamRouter.apiKey(keyed, Map.of("PRO_KEY", "  ")))
        .isInstanceOf(UpstreamRouter.MissingApiKeyException.class)
        .hasMessage("the API key variable PRO_KEY is not set");
  }
}

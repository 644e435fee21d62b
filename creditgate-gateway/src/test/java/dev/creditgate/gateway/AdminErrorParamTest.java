package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.creditgate.InMemoryCreditCache;
import dev.creditgate.InvalidArgumentException;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 422 names the rejected parameter only when the check that failed named it: the message is for
 * people and its first word is not read.
 */
class AdminErrorParamTest {

  private static final String TOKEN = "param-admin-token-0123456789";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  @Test
  void paramComesFromTheExceptionNotFromTheMessage() throws Exception {
    JsonNode named =
        grantRejectedWith(
            new InvalidArgumentException(
                "amount", "grants above the account's limit need approval"));
    assertThat(named.path("code").asText()).isEqualTo("validation_failed");
    assertThat(named.path("message").asText())
        .isEqualTo("grants above the account's limit need approval");
    assertThat(named.path("param").asText()).isEqualTo("amount");

    JsonNode unnamed =
        grantRejectedWith(new IllegalArgumentException("the ledger database refused a value"));
    assertThat(unnamed.path("code").asText()).isEqualTo("validation_failed");
    assertThat(unnamed.path("param").isMissingNode() || unnamed.path("param").isNull()).isTrue();
  }

  /** The error object answered to a grant when the ledger's grant throws {@code error}. */
  private JsonNode grantRejectedWith(IllegalArgumentException error) throws Exception {
    try (TestUpstream upstream = new TestUpstream();
        JdbcCreditLedger real =
            JdbcCreditLedger.builder()
                .jdbcUrl("jdbc:sqlite:" + tmp.resolve(System.nanoTime() + ".db"))
                .spoolDirectory(tmp.resolve("spool-" + System.nanoTime()))
                .build()) {
      ApiKeyStore.migrate(real.dataSource());
      ApiKeyStore keys = new ApiKeyStore(real.dataSource(), Clock.systemUTC());
      real.openAccount("acme");
      ForwardingLedger.Required rejecting = ForwardingLedger.of(real, "grant", error);
      GatewayConfig config =
          GatewayConfig.fromProperties(
              Map.of(
                  "server.port",
                  "0",
                  "admin.token",
                  TOKEN,
                  "models.pro.base-url",
                  upstream.baseUrl(),
                  "models.pro.model",
                  "m"),
              Map.of());
      try (Gateway gateway =
          Gateway.builder()
              .config(config)
              .ledger(rejecting)
              .cache(InMemoryCreditCache.builder().build())
              .keys(keys)
              .adminTokens(new AdminTokenStore(real.dataSource(), Clock.systemUTC()))
              .build()
              .start()) {
        HttpResponse<String> r =
            HttpClient.newHttpClient()
                .send(
                    HttpRequest.newBuilder(
                            URI.create(
                                "http://127.0.0.1:"
                                    + gateway.port()
                                    + "/admin/v1/accounts/acme/grants"))
                        .header("Authorization", "Bearer " + TOKEN)
                        .header("Idempotency-Key", "g-1")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"amount\":5}"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(422);
        return JSON.readTree(r.body()).path("error");
      }
    }
  }
}

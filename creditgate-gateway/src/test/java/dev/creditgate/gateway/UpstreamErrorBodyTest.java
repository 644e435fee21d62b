package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * An upstream's error body can carry what the client must not see: the provider key the gateway
 * used (masked or not), the operator's organisation or project id. The gateway answers with its own
 * error body: the upstream's status, its error type and code when they are plain identifiers, and a
 * message of its own, or the upstream's only for codes whose messages speak of the caller's
 * request.
 */
class UpstreamErrorBodyTest extends GatewayTestSupport {

  /** What OpenAI answers for a wrong key, and for a rate limit of the operator's organisation. */
  private static final String WRONG_KEY =
      "{\"error\":{\"message\":\"Incorrect API key provided: sk-proj-****************************abcd."
          + " You can find your API key at https://platform.openai.com/account/api-keys.\","
          + "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}";

  private static final String RATE_LIMITED =
      "{\"error\":{\"message\":\"Rate limit reached for gpt-4o in organization org-Secret0rgId123 on"
          + " tokens per min (TPM): Limit 30000, Used 29000, Requested 2000.\",\"type\":\"tokens\","
          + "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";

  private static final String[] LEAKS = {
    "sk-proj", "abcd", "platform.openai.com", "org-Secret0rgId123", "Secret0rg", "29000"
  };

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }

  @Test
  void aWrongProviderKeyIsNotShownToTheClient() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.failStatus = 401;
    upstream.failBody = WRONG_KEY;
    for (String body : new String[] {HELLO, HELLO_STREAM}) {
      HttpResponse<String> r = post(key, body, Map.of());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(401);
      assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
      assertNoLeak(r.body());
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
      assertThat(error.path("code").asText()).isEqualTo("invalid_api_key");
      assertThat(error.path("param").isNull()).isTrue();
      assertThat(error.path("message").asText()).contains("upstream").contains("401");
    }
    assertThat(charges(account)).isEmpty();
  }

  @Test
  void anOrganisationIdIsNotShownAndAnOddTypeIsReplaced() throws Exception {
    String key = userKey(account(), 100_000);
    upstream.failStatus = 429;
    upstream.failBody = RATE_LIMITED;
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(429);
    assertNoLeak(r.body());
    JsonNode error = JSON.readTree(r.body()).path("error");
    assertThat(error.path("code").asText()).isEqualTo("rate_limit_exceeded");
    assertThat(error.path("type").asText()).isEqualTo("upstream_error");

    // Identifiers that are not plain ones are not passed on either.
    upstream.failStatus = 403;
    upstream.failBody =
        "{\"error\":{\"message\":\"no\",\"type\":\"org-Secret0rgId123\",\"code\":\"sk-proj-abcd\","
            + "\"param\":\"Bearer sk-proj-abcd\"}}";
    HttpResponse<String> odd = post(key, HELLO, Map.of());
    assertThat(odd.statusCode()).isEqualTo(403);
    assertNoLeak(odd.body());
    JsonNode oddError = JSON.readTree(odd.body()).path("error");
    assertThat(oddError.path("type").asText()).isEqualTo("upstream_error");
    assertThat(oddError.path("code").asText()).isEqualTo("upstream_error");
    assertThat(oddError.path("param").isNull()).isTrue();
  }

  @Test
  void aMessageAboutTheCallersOwnRequestIsKept() throws Exception {
    String key = userKey(account(), 100_000);
    upstream.failStatus = 400;
    String message =
        "This model's maximum context length is 128000 tokens. However, your messages resulted in"
            + " 130512 tokens. Please reduce the length of the messages.";
    upstream.failBody =
        "{\"error\":{\"message\":\""
            + message
            + "\",\"type\":\"invalid_request_error\",\"param\":\"messages\","
            + "\"code\":\"context_length_exceeded\"}}";
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(400);
    JsonNode error = JSON.readTree(r.body()).path("error");
    assertThat(error.path("message").asText()).isEqualTo(message);
    assertThat(error.path("param").asText()).isEqualTo("messages");
    assertThat(error.path("code").asText()).isEqualTo("context_length_exceeded");

    // The same code with a key in its message: the gateway's own message.
    upstream.failBody =
        "{\"error\":{\"message\":\"too long for key sk-proj-****abcd\","
            + "\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}";
    HttpResponse<String> leaky = post(key, HELLO, Map.of());
    assertThat(leaky.statusCode()).isEqualTo(400);
    assertNoLeak(leaky.body());
  }

  @Test
  void aBodyThatIsNotAnOpenAiErrorGetsTheGatewaysOwn() throws Exception {
    String key = userKey(account(), 100_000);
    upstream.failStatus = 502;
    upstream.failBody = "<html>bad gateway at sk-proj-abcd</html>";
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(502);
    assertNoLeak(r.body());
    assertThat(code(r)).isEqualTo("upstream_error");
    upstream.failBody = "{\"detail\":\"org-Secret0rgId123 is over quota\"}";
    HttpResponse<String> other = post(key, HELLO, Map.of());
    assertThat(other.statusCode()).isEqualTo(502);
    assertNoLeak(other.body());
  }

  private static void assertNoLeak(String body) {
    for (String leak : LEAKS) {
      assertThat(body).as("answer body").doesNotContain(leak);
    }
  }
}

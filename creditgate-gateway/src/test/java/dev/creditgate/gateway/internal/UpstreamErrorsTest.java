package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.gateway.ApiError;
import org.junit.jupiter.api.Test;

class UpstreamErrorsTest {

  private static ApiError mapped(int status, String body) {
    return UpstreamErrors.toApiError(
        status >= 400 && status <= 599 ? status : 502, status, Json.parseOrNull(body.getBytes()));
  }

  @Test
  void theStatusIsKeptAndANonErrorStatusIs502() {
    assertThat(mapped(418, "{}").status()).isEqualTo(418);
    assertThat(mapped(302, "{}").status()).isEqualTo(502);
    assertThat(mapped(302, "{}").getMessage()).isEqualTo("the upstream answered HTTP 302");
  }

  @Test
  void onlyPlainIdentifiersArePassedOn() {
    for (String code :
        new String[] {
          "sk-proj-abc",
          "sk_live_abc",
          "org_abc",
          "proj_abc",
          "Invalid_Api_Key",
          "a b",
          "abcdefghij0123456789xyz",
          "x".repeat(65)
        }) {
      ApiError e =
          mapped(400, "{\"error\":{\"code\":\"" + code + "\",\"param\":\"" + code + "\"}}");
      assertThat(e.code()).as(code).isEqualTo("upstream_error");
      assertThat(e.param()).as(code).isNull();
      assertThat(e.getMessage()).as(code).doesNotContain(code);
    }
    ApiError ok =
        mapped(
            400,
            "{\"error\":{\"code\":\"invalid_value\",\"param\":\"response_format.type\","
                + "\"type\":\"invalid_request_error\",\"message\":\"bad value for sk-x\"}}");
    assertThat(ok.code()).isEqualTo("invalid_value");
    assertThat(ok.param()).isEqualTo("response_format.type");
    assertThat(ok.type()).isEqualTo("invalid_request_error");
    assertThat(ok.getMessage()).isEqualTo("the upstream answered HTTP 400 (invalid_value)");
    assertThat(mapped(400, "{\"error\":{\"type\":\"tokens\"}}").type()).isEqualTo("upstream_error");
    assertThat(mapped(400, "{\"error\":{\"code\":42}}").code()).isEqualTo("upstream_error");
  }

  @Test
  void aMessageIsKeptOnlyForCodesAboutTheRequestAndWhenItLooksLikeNoSecret() {
    String fine = "This model's maximum context length is 8192 tokens; your messages had 9001.";
    assertThat(mapped(400, error("context_length_exceeded", fine)).getMessage()).isEqualTo(fine);
    for (String leaky :
        new String[] {
          "context too long for key sk-abc",
          "see https://example.com/account",
          "organization org-Abc1 limit",
          "key ****abcd",
          "token " + "A".repeat(40),
          "x".repeat(501)
        }) {
      assertThat(mapped(400, error("context_length_exceeded", leaky)).getMessage())
          .as(leaky)
          .isEqualTo("the upstream answered HTTP 400 (context_length_exceeded)");
    }
    assertThat(mapped(429, error("rate_limit_exceeded", "Rate limit reached")).getMessage())
        .isEqualTo("the upstream answered HTTP 429 (rate_limit_exceeded)");
  }

  private static String error(String code, String message) {
    return "{\"error\":{\"code\":\"" + code + "\",\"message\":\"" + message + "\"}}";
  }
}

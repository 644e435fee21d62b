package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The console's session over plain HTTP, as an attacker would try it: the cookie's attributes, a
 * state-changing admin request without the session's CSRF token, a sign-in posted from another
 * site, a sign-out without the token, guessing tokens on the form, and a gateway without an admin
 * token.
 */
class ConsoleSessionTest extends SimulatorGatewaySupport {

  private static final Pattern CSRF = Pattern.compile("name=\"csrf-token\" content=\"([^\"]+)\"");

  @Override
  void configure(Map<String, String> props) {
    super.configure(props);
    props.put("limits.client-address-header", "X-Forwarded-For");
  }

  private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(
        b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> signIn(String token, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + "/console/sign-in"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "token=" + URLEncoder.encode(token, StandardCharsets.UTF_8)));
    headers.forEach(b::header);
    return send(b);
  }

  /** The session cookie ("name=value") of a successful sign-in. */
  private String session() throws Exception {
    HttpResponse<String> r = signIn(GatewayTestSupport.ADMIN_TOKEN, Map.of());
    assertThat(r.statusCode()).isEqualTo(303);
    return r.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];
  }

  private String csrf(String cookie) throws Exception {
    HttpResponse<String> page =
        send(HttpRequest.newBuilder(URI.create(base + "/console")).header("Cookie", cookie));
    assertThat(page.statusCode()).isEqualTo(200);
    Matcher m = CSRF.matcher(page.body());
    assertThat(m.find()).isTrue();
    return m.group(1);
  }

  private HttpResponse<String> grant(String account, String cookie, String csrf) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + "/admin/v1/accounts/" + account + "/grants"))
            .header("Cookie", cookie)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", "g-" + account + "-" + System.nanoTime())
            .POST(HttpRequest.BodyPublishers.ofString("{\"amount\":500}"));
    if (csrf != null) {
      b.header("X-CSRF-Token", csrf);
    }
    return send(b);
  }

  @Test
  void theSessionCookieIsHttpOnlyStrictAndExpires() throws Exception {
    HttpResponse<String> r = signIn(GatewayTestSupport.ADMIN_TOKEN, Map.of());
    assertThat(r.statusCode()).isEqualTo(303);
    assertThat(r.headers().firstValue("Location")).hasValue("/console");
    String cookie = r.headers().firstValue("Set-Cookie").orElseThrow();
    assertThat(cookie)
        .startsWith("creditgate_console=")
        .contains("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800")
        .doesNotContain("Secure");
    HttpResponse<String> behindTls =
        signIn(GatewayTestSupport.ADMIN_TOKEN, Map.of("X-Forwarded-Proto", "https"));
    assertThat(behindTls.headers().firstValue("Set-Cookie").orElseThrow()).contains("; Secure");

    HttpResponse<String> accounts =
        send(
            HttpRequest.newBuilder(URI.create(base + "/admin/v1/accounts"))
                .header("Cookie", cookie.split(";")[0]));
    assertThat(accounts.statusCode()).isEqualTo(200);
    HttpResponse<String> forged =
        send(
            HttpRequest.newBuilder(URI.create(base + "/admin/v1/accounts"))
                .header("Cookie", "creditgate_console=made-up-session-id"));
    assertThat(forged.statusCode()).isEqualTo(401);
  }

  @Test
  void aStateChangingRequestWithoutTheCsrfTokenIsRefusedAndChangesNothing() throws Exception {
    String account = account();
    userKey(account, 1_000);
    String cookie = session();
    String csrf = csrf(cookie);

    HttpResponse<String> none = grant(account, cookie, null);
    assertThat(none.statusCode()).isEqualTo(403);
    assertThat(JSON.readTree(none.body()).path("error").path("code").asText())
        .isEqualTo("invalid_csrf_token");
    HttpResponse<String> wrong = grant(account, cookie, csrf + "x");
    assertThat(wrong.statusCode()).isEqualTo(403);
    HttpResponse<String> otherSession = grant(account, cookie, csrf(session()));
    assertThat(otherSession.statusCode()).isEqualTo(403);
    assertThat(balance(account)).isEqualTo(1_000);
    assertThat(ledger.entries(account, null, 10).items()).hasSize(1);

    HttpResponse<String> right = grant(account, cookie, csrf);
    assertThat(right.statusCode()).isEqualTo(201);
    assertThat(balance(account)).isEqualTo(1_500);
  }

  @Test
  void aSignInPostedFromAnotherSiteIsRefused() throws Exception {
    HttpResponse<String> r =
        signIn(GatewayTestSupport.ADMIN_TOKEN, Map.of("Origin", "https://evil.example"));
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.headers().firstValue("Set-Cookie")).isEmpty();
    HttpResponse<String> opaque = signIn(GatewayTestSupport.ADMIN_TOKEN, Map.of("Origin", "null"));
    assertThat(opaque.statusCode()).isEqualTo(403);
  }

  @Test
  void signingOutNeedsTheCsrfTokenAndEndsTheSession() throws Exception {
    String cookie = session();
    String csrf = csrf(cookie);
    HttpResponse<String> forged =
        send(
            HttpRequest.newBuilder(URI.create(base + "/console/sign-out"))
                .header("Cookie", cookie)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("csrf=nope")));
    assertThat(forged.statusCode()).isEqualTo(403);
    assertThat(
            send(HttpRequest.newBuilder(URI.create(base + "/admin/v1/accounts"))
                    .header("Cookie", cookie))
                .statusCode())
        .isEqualTo(200);

    HttpResponse<String> out =
        send(
            HttpRequest.newBuilder(URI.create(base + "/console/sign-out"))
                .header("Cookie", cookie)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("csrf=" + csrf)));
    assertThat(out.statusCode()).isEqualTo(303);
    assertThat(out.headers().firstValue("Set-Cookie").orElseThrow()).contains("Max-Age=0");
    assertThat(
            send(HttpRequest.newBuilder(URI.create(base + "/admin/v1/accounts"))
                    .header("Cookie", cookie))
                .statusCode())
        .isEqualTo(401);
  }

  @Test
  void guessingTokensOnTheFormIsLimitedPerAddress() throws Exception {
    Map<String, String> from = Map.of("X-Forwarded-For", "203.0.113.7");
    int refused = 0;
    HttpResponse<String> last = null;
    for (int i = 0; i < GatewayLimits.DEFAULT_AUTH_FAILURES_PER_ADDRESS + 2; i++) {
      last = signIn("guess-" + i, from);
      if (last.statusCode() == 429) {
        break;
      }
      assertThat(last.statusCode()).isEqualTo(401);
      refused++;
    }
    assertThat(refused).isEqualTo(GatewayLimits.DEFAULT_AUTH_FAILURES_PER_ADDRESS);
    assertThat(last.statusCode()).isEqualTo(429);
    assertThat(last.headers().firstValue("Retry-After")).isPresent();
    // While limited, not even the right token is tried.
    assertThat(signIn(GatewayTestSupport.ADMIN_TOKEN, from).statusCode()).isEqualTo(429);
    // Another address is not held up by it.
    assertThat(
            signIn(GatewayTestSupport.ADMIN_TOKEN, Map.of("X-Forwarded-For", "203.0.113.8"))
                .statusCode())
        .isEqualTo(303);
  }

  @Test
  void withoutAnAdminTokenThereIsNoConsole() throws Exception {
    Path dir = Files.createTempDirectory("creditgate-no-console");
    Map<String, String> props = new HashMap<>();
    props.put("server.port", "0");
    props.put("demo", "true");
    props.put("ledger.url", "jdbc:sqlite:" + dir.resolve("creditgate.db"));
    props.put("ledger.spool-dir", dir.resolve("spool").toString());
    try (GatewayServer bare =
        GatewayServer.start(GatewayConfig.fromProperties(props, Map.of()), Map.of())) {
      String url = "http://127.0.0.1:" + bare.port();
      assertThat(send(HttpRequest.newBuilder(URI.create(url + "/console/sign-in"))).statusCode())
          .isEqualTo(404);
      assertThat(
              send(HttpRequest.newBuilder(URI.create(url + "/console/sign-in"))
                      .header("Content-Type", "application/x-www-form-urlencoded")
                      .POST(HttpRequest.BodyPublishers.ofString("token=")))
                  .statusCode())
          .isEqualTo(404);
    }
  }

  @Test
  void aViewerSignsInButCannotChangeAndARevokedTokenEndsItsSession() throws Exception {
    String account = account();
    userKey(account, 1_000);
    AdminTokenStore.CreatedToken viewer =
        server.adminTokens().create("viewer-" + account, AdminToken.Role.VIEWER);
    HttpResponse<String> in = signIn(viewer.secret(), Map.of());
    assertThat(in.statusCode()).isEqualTo(303);
    String cookie = in.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];
    String csrf = csrf(cookie);
    HttpResponse<String> page =
        send(HttpRequest.newBuilder(URI.create(base + "/console")).header("Cookie", cookie));
    assertThat(page.body()).contains("viewer-" + account).contains("content=\"viewer\"");

    HttpResponse<String> refused = grant(account, cookie, csrf);
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(JSON.readTree(refused.body()).path("error").path("code").asText())
        .isEqualTo("insufficient_role");
    assertThat(balance(account)).isEqualTo(1_000);

    server.adminTokens().revoke(viewer.token().id());
    assertThat(
            send(HttpRequest.newBuilder(URI.create(base + "/admin/v1/accounts"))
                    .header("Cookie", cookie))
                .statusCode())
        .isEqualTo(401);
    HttpResponse<String> gone =
        send(HttpRequest.newBuilder(URI.create(base + "/console")).header("Cookie", cookie));
    assertThat(gone.statusCode()).isEqualTo(303);
    assertThat(gone.headers().firstValue("Location")).hasValue("/console/sign-in");
  }

  @Test
  void anOperatorsConsoleChangesRecordItsName() throws Exception {
    String account = account();
    userKey(account, 1_000);
    AdminTokenStore.CreatedToken operator =
        server.adminTokens().create("op-" + account, AdminToken.Role.OPERATOR);
    HttpResponse<String> in = signIn(operator.secret(), Map.of());
    String cookie = in.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];
    assertThat(grant(account, cookie, csrf(cookie)).statusCode()).isEqualTo(201);
    assertThat(ledger.entries(account, null, 1).items().get(0).actor()).isEqualTo("op-" + account);
  }
}

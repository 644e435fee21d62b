package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code creditgate holds list|release} against a running gateway over real HTTP: the holds live in
 * the gateway process, so the CLI asks it through the admin API.
 */
class HoldsCliTest extends GatewayTestSupport {

  CountDownLatch release;

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }

  @AfterEach
  void endHeldStreams() {
    if (release != null) {
      release.countDown();
    }
  }

  /** A streamed call under {@code idempotencyKey}, held open after its first chunk. */
  BufferedReader holdCall(String key, String idempotencyKey) throws Exception {
    release = upstream.holdStream();
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key)
            .header("Idempotency-Key", idempotencyKey)
            .POST(HttpRequest.BodyPublishers.ofString(HELLO_STREAM))
            .build();
    HttpResponse<java.io.InputStream> response =
        http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    BufferedReader reader =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
    assertThat(reader.readLine()).contains("\"Hello\"");
    return reader;
  }

  String[] gateway(String... args) {
    String[] all = new String[args.length + 4];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--gateway-url";
    all[args.length + 1] = base;
    all[args.length + 2] = "--admin-token";
    all[args.length + 3] = ADMIN_TOKEN;
    return all;
  }

  @Test
  void listsTheHoldOfACallInFlightAndReleasesIt() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    // An event id with characters that must be escaped in a URL path.
    String eventId = "retry:7+a%b";
    BufferedReader stream = holdCall(key, eventId);

    CliTest.Result listed = CliTest.run(gateway("holds", "list", account));
    assertThat(listed.exit()).as(listed.err()).isZero();
    String[] lines = listed.out().split("\n");
    assertThat(lines[0]).matches("EVENT_ID\\s+CREDITS\\s+DEADLINE\\s+INSTANCE");
    long held = ledgerHeld(account);
    assertThat(held).isPositive();
    assertThat(lines[1])
        .startsWith(eventId + " ")
        .contains(" " + held + " ")
        .matches(".*\\d{4}-\\d\\d-\\d\\dT.*Z\\s+\\d+@.*");
    assertThat(lines[2])
        .isEqualTo("1 hold, " + held + " credits held for account '" + account + "'");

    CliTest.Result released = CliTest.run(gateway("holds", "release", account, eventId));
    assertThat(released.exit()).as(released.err()).isZero();
    assertThat(released.out()).contains("released the hold of event '" + eventId + "'");
    assertThat(ledgerHeld(account)).isZero();
    assertThat(CliTest.run(gateway("holds", "list", account)).out())
        .contains("no holds open for account '" + account + "'");

    CliTest.Result again = CliTest.run(gateway("holds", "release", account, eventId));
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.err())
        .contains("404 hold_not_found")
        .contains("no hold of event '" + eventId + "' is open for account '" + account + "'");

    release.countDown();
    while (stream.readLine() != null) {}
  }

  @Test
  void theUrlAndTokenDefaultToTheGatewaysConfig() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    BufferedReader stream = holdCall(key, "from-config-1");
    Path config = tmp.resolve("cli-holds.yaml");
    Files.writeString(
        config, "server:\n  port: " + server.port() + "\nadmin:\n  token: " + ADMIN_TOKEN + "\n");

    CliTest.Result listed = CliTest.run("holds", "list", account, "--config", config.toString());
    assertThat(listed.exit()).as(listed.err()).isZero();
    assertThat(listed.out()).contains("from-config-1");

    release.countDown();
    while (stream.readLine() != null) {}
  }

  @Test
  void aBadAccountIdIsRefusedBeforeAnyCall() {
    CliTest.Result r = CliTest.run(gateway("holds", "list", "not an id"));
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).contains("ACCOUNT_ID must be 1-128 characters");
    CliTest.Result event = CliTest.run(gateway("holds", "release", "acme", "bad\u00e9id"));
    assertThat(event.exit()).isEqualTo(2);
    assertThat(event.err()).contains("EVENT_ID must be");
  }

  @Test
  void aWrongAdminTokenIsReported() {
    CliTest.Result r =
        CliTest.run(
            "holds",
            "list",
            "acme",
            "--gateway-url",
            base,
            "--admin-token",
            "not-the-token-at-all");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("the gateway refused the admin token (401 invalid_admin_token)");
  }

  @Test
  void noAdminTokenAnywhereIsABadUsage() throws Exception {
    Path config = tmp.resolve("no-token.yaml");
    Files.writeString(config, "server:\n  port: " + server.port() + "\n");
    CliTest.Result r = CliTest.run("holds", "list", "acme", "--config", config.toString());
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).contains("no admin token");
    CliTest.Result url =
        CliTest.run(
            "holds", "list", "acme", "--gateway-url", "localhost:8080", "--admin-token", "t");
    assertThat(url.exit()).isEqualTo(2);
    assertThat(url.err()).contains("--gateway-url must be an http(s) URL");
  }

  @Test
  void aGatewayThatIsNotRunningIsReported() throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    String url = "http://127.0.0.1:" + port;
    CliTest.Result r =
        CliTest.run("holds", "list", "acme", "--gateway-url", url, "--admin-token", ADMIN_TOKEN);
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err())
        .contains("cannot reach the gateway at " + url + "/admin/v1/accounts/acme/holds")
        .contains("cannot connect");
  }

  @Test
  void aGatewayThatDoesNotAnswerIsGivenUpAfterTheTimeout() throws Exception {
    // Connections are accepted by the kernel (the backlog) but nothing ever answers.
    try (ServerSocket silent = new ServerSocket()) {
      silent.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
      String url = "http://127.0.0.1:" + silent.getLocalPort();
      long start = System.nanoTime();
      CliTest.Result r =
          CliTest.run(
              "holds",
              "release",
              "acme",
              "evt-1",
              "--gateway-url",
              url,
              "--admin-token",
              ADMIN_TOKEN,
              "--timeout",
              "300ms");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.err())
          .contains("cannot reach the gateway at " + url)
          .contains("no answer within 300 ms");
    }
  }

  private long ledgerHeld(String account) throws Exception {
    return JSON.readTree(admin("GET", "/accounts/" + account, null, Map.of()).body())
        .path("held")
        .asLong();
  }
}

package dev.creditgate.gateway.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;

/**
 * Calls a running gateway's admin API ({@code /admin/v1}) with its admin token, for the commands
 * whose state lives in the gateway process (its open holds). Every call is bounded by one timeout,
 * for connecting and for the whole answer.
 */
final class AdminClient {

  static final String PREFIX = "/admin/v1";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final String baseUrl;
  private final String token;
  private final Duration timeout;
  private final HttpClient http;

  /**
   * @param baseUrl the gateway's URL, such as {@code http://127.0.0.1:8080}, without a trailing
   *     slash
   */
  AdminClient(String baseUrl, String token, Duration timeout) {
    this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl");
    this.token = Objects.requireNonNull(token, "token");
    this.timeout = Objects.requireNonNull(timeout, "timeout");
    this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
  }

  /** {@code GET} of a path under {@code /admin/v1}; its JSON answer. */
  JsonNode get(String path) {
    return send("GET", path);
  }

  /** {@code DELETE} of a path under {@code /admin/v1}; its JSON answer. */
  JsonNode delete(String path) {
    return send("DELETE", path);
  }

  /**
   * Percent-encodes one path segment: every byte but the unreserved characters of RFC 3986, so an
   * event id's {@code /}, {@code ?}, {@code #}, {@code %} or {@code +} stays inside its segment.
   */
  static String segment(String value) {
    StringBuilder out = new StringBuilder();
    for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '.'
          || c == '_'
          || c == '~') {
        out.append(c);
      } else {
        out.append('%').append(String.format("%02X", b & 0xff));
      }
    }
    return out.toString();
  }

  private JsonNode send(String method, String path) {
    String url = baseUrl + PREFIX + path;
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(url))
            .timeout(timeout)
            .header("Authorization", "Bearer " + token)
            .header("Accept", "application/json")
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build();
    HttpResponse<String> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new GatewayUnreachableException(url, why(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new GatewayUnreachableException(url, "interrupted", e);
    }
    JsonNode body = parse(response.body());
    if (response.statusCode() / 100 == 2 && body == null) {
      throw new AdminApiException(
          response.statusCode(),
          "",
          "the answer is not the admin API's JSON: " + abbreviate(response.body()));
    }
    if (response.statusCode() / 100 != 2) {
      JsonNode error = body == null ? JSON.createObjectNode() : body.path("error");
      String message = error.path("message").asText("");
      throw new AdminApiException(
          response.statusCode(),
          error.path("code").asText(""),
          message.isEmpty() ? abbreviate(response.body()) : message);
    }
    return body;
  }

  private String why(IOException e) {
    if (e instanceof HttpConnectTimeoutException) {
      return "no connection within " + timeout.toMillis() + " ms";
    }
    if (e instanceof HttpTimeoutException) {
      return "no answer within " + timeout.toMillis() + " ms";
    }
    String message = e.getMessage();
    if (e instanceof ConnectException) {
      return "cannot connect" + (message == null || message.isBlank() ? "" : " (" + message + ")");
    }
    return e.getClass().getSimpleName()
        + (message == null || message.isBlank() ? "" : ": " + message);
  }

  /** The answer's JSON object, or null when it is none (a proxy's page, say). */
  private static JsonNode parse(String body) {
    try {
      JsonNode node = body == null || body.isBlank() ? null : JSON.readTree(body);
      return node != null && node.isObject() ? node : null;
    } catch (IOException e) {
      return null;
    }
  }

  private static String abbreviate(String text) {
    String oneLine = text == null ? "" : text.strip().replaceAll("\\s+", " ");
    return oneLine.length() <= 200 ? oneLine : oneLine.substring(0, 200) + "...";
  }
}

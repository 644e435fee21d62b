package dev.creditgate.sim;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A real HTTP client for the simulator's tests, and the usage formulas written out by hand. */
final class SimHttp {

  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private SimHttp() {}

  /** One server-sent event: its {@code event:} name (null when absent) and its data. */
  record Event(String name, JsonNode data) {}

  static String root(SimulatedUpstream sim) {
    return "http://127.0.0.1:" + sim.port();
  }

  static HttpRequest request(
      SimulatedUpstream sim, String path, String body, Map<String, String> headers) {
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(URI.create(root(sim) + path))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    headers.forEach(builder::header);
    return builder.build();
  }

  static HttpResponse<String> post(
      SimulatedUpstream sim, String path, String body, Map<String, String> headers)
      throws IOException, InterruptedException {
    return CLIENT.send(request(sim, path, body, headers), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<InputStream> postStreaming(
      SimulatedUpstream sim, String path, String body, Map<String, String> headers)
      throws IOException, InterruptedException {
    return CLIENT.send(
        request(sim, path, body, headers), HttpResponse.BodyHandlers.ofInputStream());
  }

  static HttpResponse<String> get(SimulatedUpstream sim, String path)
      throws IOException, InterruptedException {
    return CLIENT.send(
        HttpRequest.newBuilder(URI.create(root(sim) + path))
            .timeout(Duration.ofSeconds(10))
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode json(HttpResponse<String> response) throws IOException {
    return JSON.readTree(response.body());
  }

  /** Splits an event stream into events; every block must carry one {@code data:} line. */
  static List<Event> events(String body) throws IOException {
    List<Event> events = new ArrayList<>();
    for (String block : body.split("\n\n")) {
      String name = null;
      String data = null;
      for (String line : block.split("\n")) {
        if (line.startsWith("event: ")) {
          name = line.substring("event: ".length());
        } else if (line.startsWith("data: ")) {
          data = line.substring("data: ".length());
        }
      }
      assertThat(data).as("data line in %s", block).isNotNull();
      events.add(new Event(name, JSON.readTree(data)));
    }
    return events;
  }

  /** The chat rule: ceil(words x 4 / 3) + 4 per message + 3. */
  static int promptTokens(int words, int messages) {
    return (words * 4 + 2) / 3 + 4 * messages + 3;
  }

  /**
   * The natural answer length for a model and the JSON the simulator hashes: 8 plus the first 8
   * bytes of SHA-256(model, 0, json) modulo 57.
   */
  static int naturalLength(String model, String json) throws NoSuchAlgorithmException {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    sha.update(model.getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0);
    sha.update(json.getBytes(StandardCharsets.UTF_8));
    long seed = ByteBuffer.wrap(sha.digest()).getLong();
    return 8 + (int) Math.floorMod(seed, 57L);
  }
}

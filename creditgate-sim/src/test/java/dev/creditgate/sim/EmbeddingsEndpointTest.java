package dev.creditgate.sim;

import static dev.creditgate.sim.SimHttp.json;
import static dev.creditgate.sim.SimHttp.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EmbeddingsEndpointTest {

  private static final String PATH = "/v1/embeddings";

  private static SimulatedUpstream sim;

  @BeforeAll
  static void start() {
    sim = SimulatedUpstream.builder().build().start();
  }

  @AfterAll
  static void stop() {
    sim.close();
  }

  private static JsonNode embed(String input, String extra) throws Exception {
    HttpResponse<String> response =
        post(sim, PATH, "{\"model\":\"sim-embed\",\"input\":" + input + extra + "}", Map.of());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return json(response);
  }

  private static List<Float> floats(JsonNode embedding) {
    List<Float> values = new ArrayList<>();
    embedding.forEach(v -> values.add(v.floatValue()));
    return values;
  }

  private static double norm(List<Float> vector) {
    return Math.sqrt(vector.stream().mapToDouble(v -> (double) v * v).sum());
  }

  @Test
  void oneStringGivesOneUnitVectorAndWordBasedTokens() throws Exception {
    JsonNode body = embed("\"hello simulated world\"", "");
    assertThat(body.get("object").asText()).isEqualTo("list");
    assertThat(body.get("model").asText()).isEqualTo("sim-embed");
    assertThat(body.get("data")).hasSize(1);
    JsonNode item = body.get("data").get(0);
    assertThat(item.get("object").asText()).isEqualTo("embedding");
    assertThat(item.get("index").asInt()).isZero();
    List<Float> vector = floats(item.get("embedding"));
    assertThat(vector).hasSize(EmbeddingsEndpoint.DEFAULT_DIMENSIONS);
    assertThat(norm(vector)).isCloseTo(1.0, within(1e-5));
    // 3 words: ceil(3 x 4 / 3) = 4.
    assertThat(body.get("usage").get("prompt_tokens").asInt()).isEqualTo(4);
    assertThat(body.get("usage").get("total_tokens").asInt()).isEqualTo(4);
  }

  @Test
  void tokensAddUpOverStringsAndTokenArrays() throws Exception {
    // ceil(6 x 4 / 3) = 8, ceil(1 x 4 / 3) = 2, and a blank string still costs 1.
    JsonNode strings = embed("[\"one two three four five six\",\"x\",\"   \"]", "");
    assertThat(strings.get("data")).hasSize(3);
    assertThat(strings.get("usage").get("prompt_tokens").asInt()).isEqualTo(11);
    for (int i = 0; i < 3; i++) {
      assertThat(strings.get("data").get(i).get("index").asInt()).isEqualTo(i);
    }
    JsonNode oneArray = embed("[101,102,103]", "");
    assertThat(oneArray.get("data")).hasSize(1);
    assertThat(oneArray.get("usage").get("prompt_tokens").asInt()).isEqualTo(3);
    JsonNode arrays = embed("[[1,2],[3,4,5]]", "");
    assertThat(arrays.get("data")).hasSize(2);
    assertThat(arrays.get("usage").get("prompt_tokens").asInt()).isEqualTo(5);
  }

  @Test
  void vectorsAreDeterministicPerModelAndInput() throws Exception {
    JsonNode pair = embed("[\"alpha\",\"beta\"]", "");
    JsonNode alone = embed("\"beta\"", "");
    List<Float> alpha = floats(pair.get("data").get(0).get("embedding"));
    List<Float> beta = floats(pair.get("data").get(1).get("embedding"));
    assertThat(floats(alone.get("data").get(0).get("embedding"))).isEqualTo(beta);
    assertThat(alpha).isNotEqualTo(beta);
    JsonNode otherModel =
        json(post(sim, PATH, "{\"model\":\"other\",\"input\":\"beta\"}", Map.of()));
    assertThat(floats(otherModel.get("data").get(0).get("embedding"))).isNotEqualTo(beta);

    List<Float> wide =
        floats(embed("\"beta\"", ",\"dimensions\":3072").get("data").get(0).get("embedding"));
    assertThat(wide).hasSize(3072);
    assertThat(norm(wide)).isCloseTo(1.0, within(1e-4));
  }

  @Test
  void base64IsLittleEndianFloat32OfTheSameVector() throws Exception {
    JsonNode asFloats = embed("\"gamma delta\"", ",\"encoding_format\":\"float\",\"dimensions\":5");
    JsonNode asBase64 =
        embed("\"gamma delta\"", ",\"encoding_format\":\"base64\",\"dimensions\":5");
    String encoded = asBase64.get("data").get(0).get("embedding").asText();
    ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(encoded));
    bytes.order(ByteOrder.LITTLE_ENDIAN);
    assertThat(bytes.remaining()).isEqualTo(5 * Float.BYTES);
    List<Float> decoded = new ArrayList<>();
    while (bytes.hasRemaining()) {
      decoded.add(bytes.getFloat());
    }
    assertThat(decoded).isEqualTo(floats(asFloats.get("data").get(0).get("embedding")));
    assertThat(asBase64.get("usage")).isEqualTo(asFloats.get("usage"));
  }

  @Test
  void simHeadersFailOrDropUsage() throws Exception {
    String body = "{\"model\":\"m\",\"input\":\"x\"}";
    HttpResponse<String> limited = post(sim, PATH, body, Map.of("X-Sim-Fail", "429"));
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(json(limited).get("error").get("type").asText()).isEqualTo("rate_limit_error");
    HttpResponse<String> noUsage = post(sim, PATH, body, Map.of("X-Sim-No-Usage", "true"));
    assertThat(noUsage.statusCode()).isEqualTo(200);
    assertThat(json(noUsage).has("usage")).isFalse();
  }

  @Test
  void badRequestsAreRefusedNamingTheField() throws Exception {
    SimulatedUpstream own = SimulatedUpstream.builder().apiKey("k").maxBodyBytes(30_000).build();
    own.start();
    try (own) {
      Map<String, String> auth = Map.of("Authorization", "Bearer k");
      String tooMany = "[" + "\"a\",".repeat(2048) + "\"a\"]";
      Object[][] cases = {
        {"{\"input\":\"x\"}", auth, 400, "missing_required_parameter", "model"},
        {"{\"model\":\"m\"}", auth, 400, "missing_required_parameter", "input"},
        {"{\"model\":\"m\",\"input\":\"\"}", auth, 400, "invalid_value", "input"},
        {"{\"model\":\"m\",\"input\":[]}", auth, 400, "invalid_type", "input"},
        {"{\"model\":\"m\",\"input\":[\"a\",\"\"]}", auth, 400, "invalid_value", "input[1]"},
        {"{\"model\":\"m\",\"input\":[1,-1]}", auth, 400, "invalid_type", "input"},
        {"{\"model\":\"m\",\"input\":[1.5]}", auth, 400, "invalid_type", "input[0]"},
        {"{\"model\":\"m\",\"input\":[[1],[]]}", auth, 400, "invalid_value", "input[1]"},
        {"{\"model\":\"m\",\"input\":[\"a\",{}]}", auth, 400, "invalid_type", "input[1]"},
        {"{\"model\":\"m\",\"input\":{\"a\":1}}", auth, 400, "invalid_type", "input"},
        {"{\"model\":\"m\",\"input\":" + tooMany + "}", auth, 400, "invalid_type", "input"},
        {
          "{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}",
          auth,
          400,
          "invalid_value",
          "dimensions"
        },
        {
          "{\"model\":\"m\",\"input\":\"x\",\"dimensions\":3073}",
          auth,
          400,
          "invalid_value",
          "dimensions"
        },
        {
          "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"hex\"}",
          auth,
          400,
          "invalid_value",
          "encoding_format"
        },
        {"{\"model\":\"m\",\"input\":\"x\"}", Map.of(), 401, "invalid_api_key", null},
        {
          "{\"model\":\"m\",\"input\":\"" + "x".repeat(30_000) + "\"}",
          auth,
          413,
          "request_too_large",
          null
        },
      };
      for (Object[] c : cases) {
        @SuppressWarnings("unchecked")
        Map<String, String> headers = (Map<String, String>) c[1];
        HttpResponse<String> response = post(own, PATH, (String) c[0], headers);
        String what = ((String) c[0]).substring(0, Math.min(60, ((String) c[0]).length()));
        assertThat(response.statusCode()).as("status for %s", what).isEqualTo(c[2]);
        JsonNode error = json(response).get("error");
        assertThat(error.get("code").asText()).as("code for %s", what).isEqualTo(c[3]);
        if (c[4] == null) {
          assertThat(error.get("param").isNull()).isTrue();
        } else {
          assertThat(error.get("param").asText()).as("param for %s", what).isEqualTo(c[4]);
          assertThat(error.get("message").asText()).contains((String) c[4]);
        }
      }
      assertThat(post(own, PATH, "{\"model\":\"m\",\"input\":\"a b\"}", auth).statusCode())
          .isEqualTo(200);
      SimulatorStats stats = own.stats();
      assertThat(stats.embeddingsRequests()).isEqualTo(cases.length + 1);
      assertThat(stats.rejectedRequests()).isEqualTo(cases.length);
      assertThat(stats.usageReports()).isEqualTo(1);
      assertThat(stats.promptTokens()).isEqualTo(3);
      assertThat(stats.completionTokens()).isZero();
    }
  }
}

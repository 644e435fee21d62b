package dev.creditgate.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@code POST /v1/embeddings}: one deterministic unit vector per input, seeded by the model and the
 * input, as floats or as base64 little-endian float32 bytes (what OpenAI's SDKs ask for by
 * default). Tokens: about 4/3 per word of a string (at least 1), the length of a token array.
 */
final class EmbeddingsEndpoint implements ProtocolEndpoint {

  /** Dimensions when the request names none. */
  static final int DEFAULT_DIMENSIONS = 8;

  /** The most dimensions a request may ask for, as OpenAI's largest embedding model has. */
  static final int MAX_DIMENSIONS = 3072;

  /** The most inputs in one request, as OpenAI allows. */
  static final int MAX_INPUTS = 2048;

  private final SimContext ctx;
  private final Intake intake;
  private final Intake.Steps<EmbeddingsRequest> steps;

  EmbeddingsEndpoint(SimContext ctx, Intake intake) {
    this.ctx = ctx;
    this.intake = intake;
    this.steps =
        new Intake.Steps<>(
            shape(),
            ctx::admitBearer,
            EmbeddingsEndpoint::parse,
            root -> RequestFields.text(root, "user"));
  }

  @Override
  public ErrorShape shape() {
    return ErrorShape.OPENAI;
  }

  /**
   * One input to embed: its JSON (a string or a token array) and its tokens.
   *
   * @param json the input as sent, hashed for the vector
   * @param tokens what it counts towards {@code prompt_tokens}
   */
  record Input(JsonNode json, int tokens) {}

  /**
   * An embeddings request.
   *
   * @param input the {@code input} as sent
   */
  record EmbeddingsRequest(
      String model, JsonNode input, List<Input> inputs, int dimensions, boolean base64) {}

  static EmbeddingsRequest parse(JsonNode root) throws BadRequest {
    String model = RequestFields.model(root);
    JsonNode input = root.get("input");
    if (input == null || input.isNull()) {
      throw new BadRequest(
          "you must provide an input parameter", "input", "missing_required_parameter");
    }
    List<Input> inputs = new ArrayList<>();
    if (input.isTextual()) {
      inputs.add(text(input, "input"));
    } else if (input.isArray() && !input.isEmpty() && input.size() <= MAX_INPUTS) {
      if (input.get(0).isIntegralNumber()) {
        inputs.add(tokens(input, "input"));
      } else {
        for (int i = 0; i < input.size(); i++) {
          JsonNode item = input.get(i);
          String param = "input[" + i + "]";
          if (item.isTextual()) {
            inputs.add(text(item, param));
          } else if (item.isArray()) {
            inputs.add(tokens(item, param));
          } else {
            throw invalidInput(param, item);
          }
        }
      }
    } else {
      throw new BadRequest(
          "input must be a non-empty string, an array of 1 to "
              + MAX_INPUTS
              + " strings, a token array or an array of token arrays, but was "
              + RequestFields.abbreviate(input),
          "input",
          "invalid_type");
    }
    int dimensions = RequestFields.positive(root, "dimensions");
    if (dimensions == Integer.MAX_VALUE) {
      dimensions = DEFAULT_DIMENSIONS;
    } else if (dimensions > MAX_DIMENSIONS) {
      throw new BadRequest(
          "dimensions must be at most " + MAX_DIMENSIONS + ", but was " + dimensions,
          "dimensions",
          "invalid_value");
    }
    JsonNode format = root.get("encoding_format");
    boolean base64 = false;
    if (format != null && !format.isNull()) {
      String value = format.isTextual() ? format.asText() : "";
      if (value.equals("base64")) {
        base64 = true;
      } else if (!value.equals("float")) {
        throw new BadRequest(
            "encoding_format must be 'float' or 'base64', but was "
                + RequestFields.abbreviate(format),
            "encoding_format",
            "invalid_value");
      }
    }
    return new EmbeddingsRequest(model, input, inputs, dimensions, base64);
  }

  private static Input text(JsonNode text, String param) throws BadRequest {
    if (text.asText().isEmpty()) {
      throw new BadRequest(param + " must not be an empty string", param, "invalid_value");
    }
    return new Input(text, SimulatedText.embeddingTokens(text.asText()));
  }

  private static Input tokens(JsonNode array, String param) throws BadRequest {
    if (array.isEmpty()) {
      throw new BadRequest(param + " must not be an empty token array", param, "invalid_value");
    }
    for (JsonNode token : array) {
      if (!token.isIntegralNumber() || !token.canConvertToInt() || token.asInt() < 0) {
        throw invalidInput(param, array);
      }
    }
    return new Input(array, array.size());
  }

  private static BadRequest invalidInput(String param, JsonNode value) {
    return new BadRequest(
        param
            + " must be a string or an array of non-negative integer tokens, but was "
            + RequestFields.abbreviate(value),
        param,
        "invalid_type");
  }

  @Override
  public void handle(HttpExchange ex, Fault fault) throws IOException, InterruptedException {
    ctx.stats.embeddingsRequests.increment();
    Intake.Taken<EmbeddingsRequest> taken = intake.take(ex, fault, steps);
    if (taken == null) {
      return;
    }
    EmbeddingsRequest request = taken.request();
    SimHeaders headers = taken.headers();
    Pacing.sleepNanos(taken.latencyNanos());
    ObjectNode body = ctx.mapper.createObjectNode();
    body.put("object", "list");
    ArrayNode data = body.putArray("data");
    long tokens = 0;
    for (int i = 0; i < request.inputs().size(); i++) {
      Input input = request.inputs().get(i);
      tokens += input.tokens();
      float[] vector = unitVector(request.model(), input.json(), request.dimensions());
      ObjectNode item = data.addObject();
      item.put("object", "embedding");
      item.put("index", i);
      if (request.base64()) {
        item.put("embedding", base64(vector));
      } else {
        ArrayNode values = item.putArray("embedding");
        for (float v : vector) {
          values.add(v);
        }
      }
    }
    body.put("model", request.model());
    int prompt = (int) Math.min(Integer.MAX_VALUE, tokens);
    Usage usage = headers.noUsage() ? null : new Usage(prompt, 0, 0, 0);
    if (usage != null) {
      body.putObject("usage").put("prompt_tokens", prompt).put("total_tokens", prompt);
    }
    long seed = SimulatedText.seed(request.model(), ctx.mapper.writeValueAsBytes(request.input()));
    String id = ctx.nextId("emb-sim-", seed);
    ctx.wire.answer(ex, body, "x-request-id", id, usage, FaultGate.abortsPlain(fault));
  }

  /** A vector of length 1 whose direction depends only on the model and the input. */
  float[] unitVector(String model, JsonNode input, int dimensions) throws IOException {
    SplittableRandom random =
        new SplittableRandom(SimulatedText.seed(model, ctx.mapper.writeValueAsBytes(input)));
    double[] raw = new double[dimensions];
    double norm = 0;
    for (int i = 0; i < dimensions; i++) {
      raw[i] = random.nextDouble(-1.0, 1.0);
      norm += raw[i] * raw[i];
    }
    norm = Math.sqrt(norm);
    float[] vector = new float[dimensions];
    for (int i = 0; i < dimensions; i++) {
      vector[i] = (float) (norm == 0 ? (i == 0 ? 1 : 0) : raw[i] / norm);
    }
    return vector;
  }

  /** Little-endian float32 bytes in base64, as OpenAI encodes {@code encoding_format: base64}. */
  static String base64(float[] vector) {
    ByteBuffer bytes =
        ByteBuffer.allocate(vector.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : vector) {
      bytes.putFloat(v);
    }
    return Base64.getEncoder().encodeToString(bytes.array());
  }
}

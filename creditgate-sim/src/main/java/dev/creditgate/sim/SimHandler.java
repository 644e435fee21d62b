package dev.creditgate.sim;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** Serves the simulator's endpoints. Runs one virtual thread per exchange. */
final class SimHandler implements HttpHandler {

  static final String FINGERPRINT = "creditgate-simulator";
  static final String OWNER = "creditgate-simulator";

  static final String HEADER_FAIL = "X-Sim-Fail";
  static final String HEADER_NO_USAGE = "X-Sim-No-Usage";
  static final String HEADER_LATENCY = "X-Sim-Latency-Ms";
  static final String HEADER_CACHED = "X-Sim-Cached-Tokens";
  static final String HEADER_REASONING = "X-Sim-Reasoning-Tokens";
  static final String HEADER_ABORT = "X-Sim-Abort-After-Chunks";

  private static final long MAX_HEADER_LATENCY_MS = TimeUnit.MINUTES.toMillis(10);
  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

  /**
   * Faults of plain answers: padded with spaces to at least {@code paddingBytes}, or stalled for
   * {@code stallNanos} after their headers and half their body.
   */
  record PlainFaults(int paddingBytes, long stallNanos) {}

  /** Reported usage of one response. */
  record Usage(int promptTokens, int completionTokens, int cachedTokens, int reasoningTokens) {}

  /** Thrown to drop the connection mid-response, the way a crashing upstream would. */
  static final class AbortResponse extends RuntimeException {
    AbortResponse(String message) {
      super(message, null, false, false);
    }
  }

  private final ObjectMapper mapper;
  private final long latencyNanos;
  private final int tokensPerSecond;
  private final String apiKey;
  private final List<String> models;
  private final Clock clock;
  private final int maxBodyBytes;
  private final boolean ignoreMaxTokens;
  private final RequestLog requestLog;
  private final PlainFaults faults;
  private final StatsCounter stats;
  private final AtomicLong sequence = new AtomicLong();

  SimHandler(
      ObjectMapper mapper,
      long latencyNanos,
      int tokensPerSecond,
      String apiKey,
      List<String> models,
      Clock clock,
      int maxBodyBytes,
      boolean ignoreMaxTokens,
      RequestLog requestLog,
      PlainFaults faults,
      StatsCounter stats) {
    this.mapper = mapper;
    this.latencyNanos = latencyNanos;
    this.tokensPerSecond = tokensPerSecond;
    this.apiKey = apiKey;
    this.models = models;
    this.clock = clock;
    this.maxBodyBytes = maxBodyBytes;
    this.ignoreMaxTokens = ignoreMaxTokens;
    this.requestLog = requestLog;
    this.faults = faults;
    this.stats = stats;
  }

  @Override
  public void handle(HttpExchange ex) {
    try {
      ex.getResponseHeaders().set("X-Simulator", FINGERPRINT);
      route(ex);
      ex.close();
    } catch (AbortResponse e) {
      stats.abortedResponses.increment();
      // Escaping the handler makes the JDK server close the socket without the final chunk.
      throw e;
    } catch (IOException e) {
      stats.abortedResponses.increment();
      ex.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stats.abortedResponses.increment();
      throw new AbortResponse("simulator stopping");
    }
  }

  private void route(HttpExchange ex) throws IOException, InterruptedException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    if (path.endsWith("/") && path.length() > 1) {
      path = path.substring(0, path.length() - 1);
    }
    switch (path) {
      case "/v1/chat/completions" -> {
        if (!method.equals("POST")) {
          sendError(
              ex,
              405,
              "Method " + method + " is not allowed; use POST",
              null,
              "method_not_allowed");
        } else if (authorized(ex)) {
          chat(ex);
        }
      }
      case "/v1/models" -> {
        if (!method.equals("GET")) {
          sendError(
              ex, 405, "Method " + method + " is not allowed; use GET", null, "method_not_allowed");
        } else if (authorized(ex)) {
          models(ex);
        }
      }
      case "/sim/stats" -> sendJson(ex, 200, statsJson());
      case "/sim/stats/reset" -> {
        if (!method.equals("POST")) {
          sendError(
              ex,
              405,
              "Method " + method + " is not allowed; use POST",
              null,
              "method_not_allowed");
        } else {
          stats.reset();
          sendJson(ex, 200, statsJson());
        }
      }
      case "/health" -> {
        ObjectNode health = mapper.createObjectNode();
        health.put("status", "ok");
        health.put("simulator", true);
        sendJson(ex, 200, health);
      }
      default -> {
        if (!path.startsWith("/v1/models/")) {
          sendError(ex, 404, "Unknown path " + path + " (SIMULATED upstream)", null, "not_found");
        } else if (!method.equals("GET")) {
          sendError(
              ex, 405, "Method " + method + " is not allowed; use GET", null, "method_not_allowed");
        } else if (authorized(ex)) {
          String id = path.substring("/v1/models/".length());
          if (models.contains(id)) {
            sendJson(ex, 200, model(id));
          } else {
            sendError(ex, 404, "The model '" + id + "' does not exist", "model", "model_not_found");
          }
        }
      }
    }
  }

  private boolean authorized(HttpExchange ex) throws IOException {
    if (apiKey == null) {
      return true;
    }
    String header = ex.getRequestHeaders().getFirst("Authorization");
    byte[] expected = ("Bearer " + apiKey).getBytes(StandardCharsets.UTF_8);
    byte[] given = header == null ? new byte[0] : header.getBytes(StandardCharsets.UTF_8);
    if (MessageDigest.isEqual(expected, given)) {
      return true;
    }
    if (ex.getRequestURI().getPath().startsWith("/v1/chat/")) {
      stats.chatRequests.increment();
      stats.rejectedRequests.increment();
    }
    sendError(
        ex, 401, "Incorrect API key provided to the SIMULATED upstream", null, "invalid_api_key");
    return false;
  }

  private void models(HttpExchange ex) throws IOException {
    ObjectNode list = mapper.createObjectNode();
    list.put("object", "list");
    ArrayNode data = list.putArray("data");
    for (String id : models) {
      data.add(model(id));
    }
    sendJson(ex, 200, list);
  }

  private ObjectNode model(String id) {
    ObjectNode model = mapper.createObjectNode();
    model.put("id", id);
    model.put("object", "model");
    model.put("created", 0);
    model.put("owned_by", OWNER);
    return model;
  }

  private void chat(HttpExchange ex) throws IOException, InterruptedException {
    stats.chatRequests.increment();
    byte[] body;
    try (InputStream in = ex.getRequestBody()) {
      body = in.readNBytes(maxBodyBytes + 1);
    }
    if (body.length > maxBodyBytes) {
      reject(ex, 413, "Request body exceeds " + maxBodyBytes + " bytes", null, "request_too_large");
      return;
    }
    JsonNode root;
    try {
      root = mapper.readTree(body);
    } catch (JsonProcessingException e) {
      reject(
          ex,
          400,
          "We could not parse the JSON body of your request: " + e.getOriginalMessage(),
          null,
          "invalid_json");
      return;
    }
    if (root == null || !root.isObject()) {
      reject(ex, 400, "The request body must be a JSON object", null, "invalid_json");
      return;
    }
    ChatRequest request;
    try {
      request = ChatRequest.parse(root, ex);
    } catch (BadRequest e) {
      reject(ex, 400, e.getMessage(), e.param, e.code);
      return;
    }
    JsonNode user = root.get("user");
    requestLog.taken(user != null && user.isTextual() ? user.asText() : null);
    byte[] messagesJson = mapper.writeValueAsBytes(root.get("messages"));
    long seed = SimulatedText.seed(request.model, messagesJson);
    int natural = SimulatedText.naturalLength(seed);
    int budget = ignoreMaxTokens ? Integer.MAX_VALUE : request.maxTokens;
    int reasoning = Math.min(request.reasoningTokens, budget);
    int visible = Math.min(natural, budget - reasoning);
    String finishReason = visible < natural ? "length" : "stop";
    int prompt = SimulatedText.promptTokens(root.get("messages"));
    int cached =
        request.cachedTokens >= 0
            ? Math.min(request.cachedTokens, prompt)
            : SimulatedText.cachedTokens(prompt);
    Usage usage = new Usage(prompt, visible + reasoning, cached, reasoning);
    String[] words = SimulatedText.words(seed, visible);
    String id = "chatcmpl-sim-" + Long.toHexString(seed) + "-" + sequence.incrementAndGet();
    long created = clock.instant().getEpochSecond();
    long latency = request.latencyNanos >= 0 ? request.latencyNanos : latencyNanos;

    if (request.failStatus > 0) {
      sleepNanos(latency);
      stats.injectedFailures.increment();
      String type =
          request.failStatus == 429
              ? "rate_limit_error"
              : request.failStatus >= 500 ? "server_error" : "invalid_request_error";
      sendError(
          ex,
          request.failStatus,
          "SIMULATED failure requested by " + HEADER_FAIL + ": " + request.failStatus,
          null,
          "simulated_failure",
          type);
      return;
    }
    if (request.stream) {
      stream(ex, request, id, created, words, finishReason, usage, latency);
    } else {
      complete(ex, request, id, created, words, finishReason, usage, latency);
    }
  }

  private void complete(
      HttpExchange ex,
      ChatRequest request,
      String id,
      long created,
      String[] words,
      String finishReason,
      Usage usage,
      long latency)
      throws IOException, InterruptedException {
    // The whole answer is "generated" before the first byte, as a real non-streaming call.
    sleepNanos(latency + tokenNanos(words.length + usage.reasoningTokens()));
    ObjectNode response = envelope(id, "chat.completion", created, request.model);
    ObjectNode choice = response.putArray("choices").addObject();
    choice.put("index", 0);
    ObjectNode message = choice.putObject("message");
    message.put("role", "assistant");
    message.put("content", String.join(" ", words));
    message.putNull("refusal");
    choice.putNull("logprobs");
    choice.put("finish_reason", finishReason);
    if (!request.noUsage) {
      response.set("usage", usageJson(usage));
    }
    byte[] bytes = mapper.writeValueAsBytes(response);
    if (bytes.length < faults.paddingBytes()) {
      byte[] padded = new byte[faults.paddingBytes()];
      System.arraycopy(bytes, 0, padded, 0, bytes.length);
      java.util.Arrays.fill(padded, bytes.length, padded.length, (byte) ' ');
      bytes = padded;
    }
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.getResponseHeaders().set("x-request-id", id);
    if (!request.noUsage) {
      stats.recordUsage(usage);
    }
    try {
      ex.sendResponseHeaders(200, bytes.length);
      try (OutputStream out = ex.getResponseBody()) {
        int half = faults.stallNanos() > 0 ? bytes.length / 2 : 0;
        if (half > 0) {
          out.write(bytes, 0, half);
          out.flush();
          sleepNanos(faults.stallNanos());
        }
        out.write(bytes, half, bytes.length - half);
      }
    } catch (IOException e) {
      if (!request.noUsage) {
        stats.unrecordUsage(usage);
      }
      throw e;
    }
    stats.completedResponses.increment();
  }

  private void stream(
      HttpExchange ex,
      ChatRequest request,
      String id,
      long created,
      String[] words,
      String finishReason,
      Usage usage,
      long latency)
      throws IOException, InterruptedException {
    sleepNanos(latency);
    ex.getResponseHeaders().set("Content-Type", "text/event-stream");
    ex.getResponseHeaders().set("Cache-Control", "no-cache");
    ex.getResponseHeaders().set("x-request-id", id);
    ex.sendResponseHeaders(200, 0);
    OutputStream out = ex.getResponseBody();
    long start = System.nanoTime();

    ObjectNode first = chunk(request, id, created);
    ObjectNode firstDelta = ((ObjectNode) first.withArray("choices").get(0)).putObject("delta");
    firstDelta.put("role", "assistant");
    firstDelta.put("content", "");
    writeEvent(out, first);

    int reasoning = usage.reasoningTokens();
    for (int i = 0; i < words.length; i++) {
      if (i == request.abortAfterChunks) {
        throw new AbortResponse("aborted after " + i + " chunks as asked by " + HEADER_ABORT);
      }
      sleepUntil(start + tokenNanos(reasoning + i + 1));
      ObjectNode chunk = chunk(request, id, created);
      ((ObjectNode) chunk.withArray("choices").get(0))
          .putObject("delta")
          .put("content", i == 0 ? words[i] : " " + words[i]);
      writeEvent(out, chunk);
    }
    if (request.abortAfterChunks >= 0 && request.abortAfterChunks >= words.length) {
      throw new AbortResponse("aborted before the final chunk as asked by " + HEADER_ABORT);
    }
    ObjectNode last = chunk(request, id, created);
    ObjectNode lastChoice = (ObjectNode) last.withArray("choices").get(0);
    lastChoice.putObject("delta");
    lastChoice.put("finish_reason", finishReason);
    writeEvent(out, last);

    if (request.includeUsage && !request.noUsage) {
      ObjectNode usageChunk = envelope(id, "chat.completion.chunk", created, request.model);
      usageChunk.putArray("choices");
      usageChunk.set("usage", usageJson(usage));
      stats.recordUsage(usage);
      try {
        writeEvent(out, usageChunk);
      } catch (IOException e) {
        stats.unrecordUsage(usage);
        throw e;
      }
    }
    out.write(DONE);
    out.flush();
    out.close();
    stats.completedResponses.increment();
    stats.streamedResponses.increment();
  }

  private ObjectNode chunk(ChatRequest request, String id, long created) {
    ObjectNode chunk = envelope(id, "chat.completion.chunk", created, request.model);
    ObjectNode choice = chunk.putArray("choices").addObject();
    choice.put("index", 0);
    choice.putNull("logprobs");
    choice.putNull("finish_reason");
    if (request.includeUsage) {
      chunk.putNull("usage");
    }
    return chunk;
  }

  private ObjectNode envelope(String id, String object, long created, String model) {
    ObjectNode node = mapper.createObjectNode();
    node.put("id", id);
    node.put("object", object);
    node.put("created", created);
    node.put("model", model);
    node.put("system_fingerprint", FINGERPRINT);
    return node;
  }

  private ObjectNode usageJson(Usage usage) {
    ObjectNode node = mapper.createObjectNode();
    node.put("prompt_tokens", usage.promptTokens());
    node.put("completion_tokens", usage.completionTokens());
    node.put("total_tokens", (long) usage.promptTokens() + usage.completionTokens());
    ObjectNode promptDetails = node.putObject("prompt_tokens_details");
    promptDetails.put("cached_tokens", usage.cachedTokens());
    promptDetails.put("audio_tokens", 0);
    ObjectNode completionDetails = node.putObject("completion_tokens_details");
    completionDetails.put("reasoning_tokens", usage.reasoningTokens());
    completionDetails.put("audio_tokens", 0);
    completionDetails.put("accepted_prediction_tokens", 0);
    completionDetails.put("rejected_prediction_tokens", 0);
    return node;
  }

  private void writeEvent(OutputStream out, ObjectNode event) throws IOException {
    byte[] json = mapper.writeValueAsBytes(event);
    byte[] frame = new byte[json.length + 8];
    System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, frame, 0, 6);
    System.arraycopy(json, 0, frame, 6, json.length);
    frame[frame.length - 2] = '\n';
    frame[frame.length - 1] = '\n';
    out.write(frame);
    out.flush();
  }

  private ObjectNode statsJson() {
    SimulatorStats s = stats.snapshot();
    ObjectNode node = mapper.createObjectNode();
    node.put("simulator", FINGERPRINT);
    node.put("chat_requests", s.chatRequests());
    node.put("completed_responses", s.completedResponses());
    node.put("streamed_responses", s.streamedResponses());
    node.put("rejected_requests", s.rejectedRequests());
    node.put("injected_failures", s.injectedFailures());
    node.put("aborted_responses", s.abortedResponses());
    node.put("usage_reports", s.usageReports());
    node.put("prompt_tokens", s.promptTokens());
    node.put("completion_tokens", s.completionTokens());
    node.put("cached_tokens", s.cachedTokens());
    node.put("reasoning_tokens", s.reasoningTokens());
    return node;
  }

  private long tokenNanos(long tokens) {
    return tokensPerSecond == 0 ? 0 : tokens * TimeUnit.SECONDS.toNanos(1) / tokensPerSecond;
  }

  private static void sleepNanos(long nanos) throws InterruptedException {
    if (nanos > 0) {
      sleepUntil(System.nanoTime() + nanos);
    }
  }

  private static void sleepUntil(long deadline) throws InterruptedException {
    long remaining;
    while ((remaining = deadline - System.nanoTime()) > 0) {
      TimeUnit.NANOSECONDS.sleep(remaining);
    }
  }

  private void reject(HttpExchange ex, int status, String message, String param, String code)
      throws IOException {
    stats.rejectedRequests.increment();
    sendError(ex, status, message, param, code);
  }

  private void sendError(HttpExchange ex, int status, String message, String param, String code)
      throws IOException {
    sendError(ex, status, message, param, code, "invalid_request_error");
  }

  private void sendError(
      HttpExchange ex, int status, String message, String param, String code, String type)
      throws IOException {
    ObjectNode body = mapper.createObjectNode();
    ObjectNode error = body.putObject("error");
    error.put("message", message);
    error.put("type", type);
    if (param == null) {
      error.putNull("param");
    } else {
      error.put("param", param);
    }
    error.put("code", code);
    sendJson(ex, status, body);
  }

  private void sendJson(HttpExchange ex, int status, JsonNode node) throws IOException {
    byte[] bytes = mapper.writeValueAsBytes(node);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** A 400 with the parameter and code to name in the OpenAI-style error. */
  static final class BadRequest extends Exception {
    final String param;
    final String code;

    BadRequest(String message, String param, String code) {
      super(message, null, false, false);
      this.param = param;
      this.code = code;
    }
  }

  /** The parts of a chat request and of the simulator's headers that shape the response. */
  static final class ChatRequest {
    String model;
    boolean stream;
    boolean includeUsage;
    int maxTokens = Integer.MAX_VALUE;
    boolean noUsage;
    int failStatus;
    long latencyNanos = -1;
    int cachedTokens = -1;
    int reasoningTokens;
    int abortAfterChunks = -1;

    static ChatRequest parse(JsonNode root, HttpExchange ex) throws BadRequest {
      ChatRequest r = new ChatRequest();
      JsonNode model = root.get("model");
      if (model == null || model.isNull()) {
        throw new BadRequest(
            "you must provide a model parameter", "model", "missing_required_parameter");
      }
      if (!model.isTextual() || model.asText().isBlank()) {
        throw new BadRequest(
            "model must be a non-empty string, but was " + model, "model", "invalid_type");
      }
      r.model = model.asText();
      JsonNode messages = root.get("messages");
      if (messages == null || messages.isNull()) {
        throw new BadRequest(
            "you must provide a messages parameter", "messages", "missing_required_parameter");
      }
      if (!messages.isArray() || messages.isEmpty()) {
        throw new BadRequest(
            "messages must be a non-empty array, but was " + abbreviate(messages),
            "messages",
            "invalid_type");
      }
      for (int i = 0; i < messages.size(); i++) {
        JsonNode message = messages.get(i);
        if (!message.isObject() || !message.path("role").isTextual()) {
          throw new BadRequest(
              "messages["
                  + i
                  + "] must be an object with a string role, but was "
                  + abbreviate(message),
              "messages[" + i + "]",
              "invalid_type");
        }
        JsonNode content = message.get("content");
        if (content != null && !content.isNull() && !content.isTextual() && !content.isArray()) {
          throw new BadRequest(
              "messages["
                  + i
                  + "].content must be a string or an array, but was "
                  + abbreviate(content),
              "messages[" + i + "].content",
              "invalid_type");
        }
      }
      r.stream = bool(root, "stream");
      JsonNode options = root.get("stream_options");
      if (options != null && !options.isNull()) {
        if (!options.isObject()) {
          throw new BadRequest(
              "stream_options must be an object, but was " + abbreviate(options),
              "stream_options",
              "invalid_type");
        }
        r.includeUsage = bool(options, "include_usage");
      }
      r.maxTokens = Math.min(positive(root, "max_tokens"), positive(root, "max_completion_tokens"));

      r.noUsage = "true".equalsIgnoreCase(header(ex, HEADER_NO_USAGE));
      String fail = header(ex, HEADER_FAIL);
      if (fail != null) {
        r.failStatus = (int) headerNumber(HEADER_FAIL, fail, 400, 599);
      }
      String latency = header(ex, HEADER_LATENCY);
      if (latency != null) {
        r.latencyNanos =
            TimeUnit.MILLISECONDS.toNanos(
                headerNumber(HEADER_LATENCY, latency, 0, MAX_HEADER_LATENCY_MS));
      }
      String cached = header(ex, HEADER_CACHED);
      if (cached != null) {
        r.cachedTokens = (int) headerNumber(HEADER_CACHED, cached, 0, Integer.MAX_VALUE);
      }
      String reasoning = header(ex, HEADER_REASONING);
      if (reasoning != null) {
        r.reasoningTokens = (int) headerNumber(HEADER_REASONING, reasoning, 0, 1_000_000);
      }
      String abort = header(ex, HEADER_ABORT);
      if (abort != null) {
        r.abortAfterChunks = (int) headerNumber(HEADER_ABORT, abort, 0, Integer.MAX_VALUE);
      }
      return r;
    }

    private static boolean bool(JsonNode parent, String field) throws BadRequest {
      JsonNode node = parent.get(field);
      if (node == null || node.isNull()) {
        return false;
      }
      if (!node.isBoolean()) {
        throw new BadRequest(
            field + " must be a boolean, but was " + abbreviate(node), field, "invalid_type");
      }
      return node.asBoolean();
    }

    private static int positive(JsonNode root, String field) throws BadRequest {
      JsonNode node = root.get(field);
      if (node == null || node.isNull()) {
        return Integer.MAX_VALUE;
      }
      if (!node.canConvertToInt() || !node.isIntegralNumber() || node.asInt() < 1) {
        throw new BadRequest(
            field + " must be a positive integer, but was " + abbreviate(node),
            field,
            "invalid_value");
      }
      return node.asInt();
    }

    private static String header(HttpExchange ex, String name) {
      String value = ex.getRequestHeaders().getFirst(name);
      return value == null ? null : value.strip();
    }

    private static long headerNumber(String name, String value, long min, long max)
        throws BadRequest {
      long parsed;
      try {
        parsed = Long.parseLong(value);
      } catch (NumberFormatException e) {
        throw new BadRequest(
            "header " + name + " must be an integer, but was '" + value + "'",
            null,
            "invalid_header");
      }
      if (parsed < min || parsed > max) {
        throw new BadRequest(
            "header " + name + " must be between " + min + " and " + max + ", but was " + parsed,
            null,
            "invalid_header");
      }
      return parsed;
    }

    private static String abbreviate(JsonNode node) {
      String text = node.toString();
      return text.length() <= 60 ? text : text.substring(0, 57) + "...";
    }
  }
}

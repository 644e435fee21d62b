package dev.creditgate.sim;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the protocol endpoints share: the simulator's options, the wire, the counters, and the first
 * steps of every request (authenticate, read a bounded body, parse it).
 */
final class SimContext {

  static final String FINGERPRINT = "creditgate-simulator";

  final ObjectMapper mapper;
  final Wire wire;
  final Pacing pacing;
  final long latencyNanos;
  final List<String> models;
  final RequestLog requestLog;
  final StatsCounter stats;
  private final String apiKey;
  private final Clock clock;
  private final int maxBodyBytes;
  private final boolean ignoreMaxTokens;
  private final AtomicLong sequence = new AtomicLong();

  SimContext(
      ObjectMapper mapper,
      Wire wire,
      Pacing pacing,
      long latencyNanos,
      String apiKey,
      List<String> models,
      Clock clock,
      int maxBodyBytes,
      boolean ignoreMaxTokens,
      RequestLog requestLog,
      StatsCounter stats) {
    this.mapper = mapper;
    this.wire = wire;
    this.pacing = pacing;
    this.latencyNanos = latencyNanos;
    this.apiKey = apiKey;
    this.models = models;
    this.clock = clock;
    this.maxBodyBytes = maxBodyBytes;
    this.ignoreMaxTokens = ignoreMaxTokens;
    this.requestLog = requestLog;
    this.stats = stats;
  }

  /** A fresh id: the prefix, the request's seed in hex and a sequence number. */
  String nextId(String prefix, long seed) {
    return prefix + Long.toHexString(seed) + "-" + sequence.incrementAndGet();
  }

  /** Seconds since the epoch, for {@code created} fields. */
  long now() {
    return clock.instant().getEpochSecond();
  }

  /** The output cap to apply: the request's, or none for a provider that ignores it. */
  int cap(int requested) {
    return ignoreMaxTokens ? Integer.MAX_VALUE : requested;
  }

  /**
   * What the simulated model says to these messages: seeded by the model and the messages' JSON,
   * capped as the request asks (unless the provider ignores caps), with the prompt counted.
   */
  Generated generate(String model, JsonNode messages, int requestedCap, SimHeaders headers)
      throws IOException {
    long seed = SimulatedText.seed(model, mapper.writeValueAsBytes(messages));
    SimulatedText.Answer answer =
        SimulatedText.answer(seed, cap(requestedCap), headers.reasoningTokens());
    return new Generated(seed, answer, SimulatedText.promptTokens(messages));
  }

  /** An answer with the seed it came from and the prompt tokens of what it answers. */
  record Generated(long seed, SimulatedText.Answer answer, int promptTokens) {

    /**
     * Usage as OpenAI reports it: cached tokens from {@code X-Sim-Cached-Tokens} (capped at the
     * prompt), else the provider's usual share of a long prompt.
     */
    Usage openAiUsage(SimHeaders headers) {
      int cached =
          headers.cachedTokens() >= 0
              ? Math.min(headers.cachedTokens(), promptTokens)
              : SimulatedText.cachedTokens(promptTokens);
      return new Usage(promptTokens, answer.outputTokens(), cached, answer.reasoningTokens());
    }
  }

  /** True without a configured key, else when {@code Authorization: Bearer <key>} matches. */
  boolean bearerAuthorized(HttpExchange ex) {
    return apiKey == null
        || matches("Bearer " + apiKey, ex.getRequestHeaders().getFirst("Authorization"));
  }

  /**
   * Like {@link #bearerAuthorized}, answering a 401 itself when not, counted as a rejected request.
   */
  boolean admitBearer(HttpExchange ex) throws IOException {
    if (bearerAuthorized(ex)) {
      return true;
    }
    stats.rejectedRequests.increment();
    refuseBearer(ex);
    return false;
  }

  /** The 401 of an OpenAI endpoint. */
  void refuseBearer(HttpExchange ex) throws IOException {
    wire.error(
        ex,
        ErrorShape.OPENAI,
        401,
        "Incorrect API key provided to the SIMULATED upstream",
        null,
        "invalid_api_key");
  }

  /** Anthropic's {@code x-api-key}, or a bearer token for symmetry. */
  boolean anthropicAuthorized(HttpExchange ex) {
    return apiKey == null
        || matches(apiKey, ex.getRequestHeaders().getFirst("x-api-key"))
        || bearerAuthorized(ex);
  }

  private static boolean matches(String expected, String given) {
    byte[] a = expected.getBytes(StandardCharsets.UTF_8);
    byte[] b = given == null ? new byte[0] : given.getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(a, b);
  }

  /**
   * Reads the body, at most the configured size, and parses a JSON object. Answers 413 or 400 in
   * the protocol's shape itself and returns null then.
   */
  JsonNode readJsonObject(HttpExchange ex, ErrorShape shape) throws IOException {
    byte[] body;
    try (InputStream in = ex.getRequestBody()) {
      body = in.readNBytes(maxBodyBytes + 1);
    }
    if (body.length > maxBodyBytes) {
      wire.reject(
          ex,
          shape,
          413,
          "Request body exceeds " + maxBodyBytes + " bytes",
          null,
          "request_too_large");
      return null;
    }
    JsonNode root;
    try {
      root = mapper.readTree(body);
    } catch (JsonProcessingException e) {
      wire.reject(
          ex,
          shape,
          400,
          "We could not parse the JSON body of your request: " + e.getOriginalMessage(),
          null,
          "invalid_json");
      return null;
    }
    if (root == null || !root.isObject()) {
      wire.reject(ex, shape, 400, "The request body must be a JSON object", null, "invalid_json");
      return null;
    }
    return root;
  }
}

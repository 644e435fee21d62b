package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.BillingContext;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.internal.Authenticator.Principal;
import dev.creditgate.ledger.LedgerChecks;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;
import java.util.UUID;

/**
 * The first step: who is calling and what they ask. Names the request, authenticates the caller
 * (before reading the body), reads and validates the body, resolves the model alias to its route,
 * and builds the call's billing context. Nothing is charged or called upstream when it refuses.
 */
final class ReadRequest implements CallStep {

  static final String IDEMPOTENCY_HEADER = "Idempotency-Key";
  static final String REQUEST_ID_HEADER = "X-Request-Id";
  static final String SCENE_HEADER = "X-Creditgate-Scene";
  static final String CONVERSATION_HEADER = "X-Creditgate-Conversation";

  /**
   * Bytes of an oversized body read and dropped before the 413, so that the answer reaches the
   * client.
   */
  static final long OVERSIZED_BODY_DRAIN_BYTES = 4L * 1024 * 1024;

  /** The longest value accepted in the gateway's own headers. */
  static final int MAX_HEADER_LENGTH = 200;

  private final Authenticator auth;
  private final UpstreamRouter router;
  private final CallOptions options;
  private final long maxBodyBytes;
  private final Set<String> userScenes;

  ReadRequest(Authenticator auth, UpstreamRouter router, CallOptions options) {
    this.auth = auth;
    this.router = router;
    this.options = options;
    this.maxBodyBytes = options.maxBodyBytes();
    this.userScenes = options.userSceneKeys();
  }

  @Override
  public void process(CallExchange x, Chain next) {
    Context ctx = x.ctx;
    x.requestId = requestId(ctx);
    ctx.header(REQUEST_ID_HEADER, x.requestId);
    x.principal = auth.authenticate(ctx);
    String scene = scene(ctx, x.principal);
    byte[] body = read(ctx);
    x.requestBytes = body.length;
    x.request = x.api.validate(parse(body), options);
    x.attempts = router.attempts(x.request.path("model").asText(""), x.api);
    x.route = x.attempts.get(0);
    x.billing =
        new BillingContext(
                x.principal.accountId(),
                eventId(ctx),
                scene,
                x.requestId,
                header(ctx, CONVERSATION_HEADER),
                x.route.config().alias(),
                x.principal.skipCharge())
            .normalize();
    x.stream = x.api.stream(x.request);
    x.clientWantsUsage = x.request.path("stream_options").path("include_usage").asBoolean(false);
    next.proceed(x);
  }

  private byte[] read(Context ctx) {
    long declared = ctx.req().getContentLengthLong();
    if (declared > maxBodyBytes) {
      throw tooLarge(ctx);
    }
    byte[] body;
    try {
      // Not closed here: an oversized body is drained from it before the 413 (tooLarge).
      body = Bodies.readAll(ctx.req().getInputStream(), maxBodyBytes, declared);
    } catch (Bodies.TooLargeException e) {
      throw tooLarge(ctx);
    } catch (IOException e) {
      throw ApiError.invalidRequest("the request body could not be read", null);
    }
    if (body.length == 0) {
      throw ApiError.invalidRequest("the request body is empty; send a JSON object", null);
    }
    return body;
  }

  private static ObjectNode parse(byte[] body) {
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      throw ApiError.invalidRequest("the request body is not valid JSON", null);
    } catch (IOException e) {
      throw ApiError.invalidRequest("the request body could not be read", null);
    }
    if (root == null || !root.isObject()) {
      throw ApiError.invalidRequest("the request body must be a JSON object", null);
    }
    return (ObjectNode) root;
  }

  /**
   * The 413 for an oversized body. The connection is closed after it; what the client is still
   * sending is read and dropped first (up to {@link #OVERSIZED_BODY_DRAIN_BYTES}), since closing a
   * socket with unread bytes makes the kernel reset the connection, and a client whose upload is
   * reset may never see the answer.
   */
  private static ApiError tooLarge(Context ctx) {
    ctx.header("Connection", "close");
    try {
      InputStream in = ctx.req().getInputStream();
      byte[] sink = new byte[16 * 1024];
      long left = OVERSIZED_BODY_DRAIN_BYTES;
      int n;
      while (left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) != -1) {
        left -= n;
      }
    } catch (IOException | RuntimeException e) {
      // The client stopped sending; the 413 is still attempted.
    }
    return new ApiError(
        413, "invalid_request_error", "request_too_large", "the request body is too large");
  }

  private static String requestId(Context ctx) {
    String given = ctx.header(REQUEST_ID_HEADER);
    if (given == null || given.isBlank()) {
      return "req_" + UUID.randomUUID().toString().replace("-", "");
    }
    String id = given.trim();
    if (id.length() > MAX_HEADER_LENGTH || !id.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "invalid_header",
          REQUEST_ID_HEADER + " must be 1-200 printable ASCII characters without spaces",
          REQUEST_ID_HEADER);
    }
    return id;
  }

  /**
   * The client's Idempotency-Key, checked; empty when it sent none (the meter then draws an id).
   */
  private static String eventId(Context ctx) {
    String given = ctx.header(IDEMPOTENCY_HEADER);
    if (given == null) {
      return "";
    }
    try {
      return LedgerChecks.requireEventId(given.trim());
    } catch (IllegalArgumentException e) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "invalid_idempotency_key",
          IDEMPOTENCY_HEADER
              + " must be 1-"
              + LedgerChecks.MAX_EVENT_ID_LENGTH
              + " printable ASCII characters without spaces",
          IDEMPOTENCY_HEADER);
    }
  }

  /**
   * The pricing scene asked for. Price rules match on it, so a user key may name only one of the
   * configured user scenes (or none); a service key names any.
   */
  private String scene(Context ctx, Principal principal) {
    String scene = header(ctx, SCENE_HEADER);
    if (scene.isBlank()
        || principal.key().kind() != ApiKey.Kind.USER
        || userScenes.contains(CallOptions.sceneKey(scene))) {
      return scene;
    }
    throw new ApiError(
        400,
        "invalid_request_error",
        "scene_not_allowed",
        "a user key may not choose the pricing scene '"
            + Authenticator.abbreviate(scene.trim())
            + "'"
            + (userScenes.isEmpty()
                ? "; send no " + SCENE_HEADER
                : "; it may name one of: " + String.join(", ", userScenes)),
        SCENE_HEADER);
  }

  private static String header(Context ctx, String name) {
    String v = ctx.header(name);
    if (v == null) {
      return "";
    }
    if (v.length() > MAX_HEADER_LENGTH) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "invalid_header",
          name + " must be at most 200 characters",
          name);
    }
    return v;
  }
}

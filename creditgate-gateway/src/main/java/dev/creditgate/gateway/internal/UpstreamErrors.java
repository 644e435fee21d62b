package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.Checks;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.internal.ThrottledLog;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers an upstream's error in the gateway's own error body. The upstream's body can carry what
 * the client must not see (the provider key the gateway used, masked or not; the operator's
 * organisation or project id), so only this is taken from it: the status (502 for one that is not
 * an error), the error's {@code type} when it is one of the OpenAI error types, its {@code code}
 * and {@code param} when they are plain lower-case identifiers that look like no secret, and its
 * {@code message} only for the codes of {@link #MESSAGE_CODES} (they speak of the caller's own
 * request) and only when it too looks like no secret. Any other message is the gateway's. The
 * upstream's body is logged: a warning at most once a second (cut to {@value #LOGGED_CHARS}
 * characters), and every one at debug.
 */
final class UpstreamErrors {

  private static final Logger LOG = LoggerFactory.getLogger(UpstreamErrors.class);
  private static final ThrottledLog WARN = new ThrottledLog(LOG, TimeUnit.SECONDS.toNanos(1));

  /** Characters of an upstream error body in the warning. */
  static final int LOGGED_CHARS = 2048;

  /** The error types passed on; any other is {@code upstream_error}. */
  static final Set<String> TYPES =
      Set.of(
          "invalid_request_error",
          "authentication_error",
          "permission_error",
          "not_found_error",
          "rate_limit_error",
          "insufficient_quota",
          "server_error",
          "api_error",
          "overloaded_error");

  /** Codes whose messages are about the caller's request, so that it can be fixed. */
  static final Set<String> MESSAGE_CODES =
      Set.of(
          "context_length_exceeded",
          "string_above_max_length",
          "content_filter",
          "content_policy_violation");

  /** The longest upstream message passed on. */
  static final int MAX_MESSAGE_CHARS = 500;

  private static final Pattern IDENTIFIER = Pattern.compile("[a-z][a-z0-9_.]{0,63}");

  /** Lower-case identifiers that could still be a secret: a key prefix, or a long random run. */
  private static final Pattern SECRET_IDENTIFIER =
      Pattern.compile("^(sk|pk|rk|org|proj|user|key|acct)_|[a-z0-9]{20,}");

  /** What a key, a token or an account id looks like, in any provider's spelling. */
  private static final Pattern SECRET_LIKE =
      Pattern.compile(
          "(?i)(sk-|sk_|pk_|rk_|org-|org_|proj_|proj-|user-|key-|key_|bearer|api[ _-]?key|\\*{3}"
              + "|https?://|[A-Za-z0-9_-]{32,})");

  private UpstreamErrors() {}

  /**
   * Writes the gateway's error for the upstream's answer and returns the status written.
   *
   * @param parsed the answer parsed as JSON, or null
   * @param answer the answer's bytes, for the log only
   */
  static int relay(CallExchange x, int status, JsonNode parsed, byte[] answer) {
    Context ctx = x.ctx;
    int passed = status >= 400 && status <= 599 ? status : 502;
    String requestId = ctx.res().getHeader(ReadRequest.REQUEST_ID_HEADER);
    String body = new String(answer, StandardCharsets.UTF_8);
    WARN.warn(
        System.nanoTime(),
        "upstream answered HTTP {}, request_id={}: {}",
        status,
        requestId,
        Checks.abbreviate(body, LOGGED_CHARS));
    LOG.debug("upstream error body, request_id={}: {}", requestId, body);
    LlmCalls.respondError(ctx, toApiError(passed, status, parsed), x.api);
    return passed;
  }

  /** The gateway's error for an upstream's error answer. */
  static ApiError toApiError(int passed, int status, JsonNode parsed) {
    JsonNode error = parsed == null ? null : parsed.path("error");
    if (error == null || !error.isObject()) {
      return new ApiError(
          passed, "upstream_error", "upstream_error", "the upstream answered HTTP " + status);
    }
    String type = text(error.path("type"));
    String code = identifier(error.path("code"));
    String param = identifier(error.path("param"));
    String message = text(error.path("message"));
    boolean keepMessage =
        code != null
            && MESSAGE_CODES.contains(code)
            && message != null
            && !message.isBlank()
            && message.length() <= MAX_MESSAGE_CHARS
            && !SECRET_LIKE.matcher(message).find();
    return new ApiError(
        passed,
        type != null && TYPES.contains(type) ? type : "upstream_error",
        code != null ? code : "upstream_error",
        keepMessage
            ? message
            : "the upstream answered HTTP " + status + (code != null ? " (" + code + ")" : ""),
        param);
  }

  private static String text(JsonNode node) {
    return node.isTextual() ? node.asText() : null;
  }

  private static String identifier(JsonNode node) {
    String s = text(node);
    return s != null && IDENTIFIER.matcher(s).matches() && !SECRET_IDENTIFIER.matcher(s).find()
        ? s
        : null;
  }
}

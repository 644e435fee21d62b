package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.BillingContext;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.ledger.LedgerChecks;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.function.Function;

/**
 * What the admin API's handlers read from a request and how they answer: the JSON body (400 when it
 * is not an object, 413 above {@code server.max-body-bytes}), ids and paging parameters, each
 * refused with the error that names it.
 */
final class AdminRequests {

  static final int DEFAULT_PAGE = 50;
  static final int MAX_PAGE = 500;

  private final long maxBodyBytes;

  AdminRequests(long maxBodyBytes) {
    this.maxBodyBytes = maxBodyBytes;
  }

  /** The body, a JSON object. */
  ObjectNode body(Context ctx) {
    return body(ctx, false);
  }

  /** The body, a JSON object; an empty one reads as {@code {}} when {@code emptyIsObject}. */
  ObjectNode body(Context ctx, boolean emptyIsObject) {
    byte[] bytes;
    try (InputStream in = ctx.req().getInputStream()) {
      bytes = Bodies.readAll(in, maxBodyBytes, ctx.req().getContentLengthLong());
    } catch (Bodies.TooLargeException e) {
      throw new ApiError(
          413, "invalid_request_error", "request_too_large", "the request body is too large");
    } catch (IOException e) {
      throw ApiError.invalidRequest("the request body could not be read", null);
    }
    if (bytes.length == 0 && emptyIsObject) {
      return Json.MAPPER.createObjectNode();
    }
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(bytes);
    } catch (IOException e) {
      throw ApiError.invalidRequest("the request body is not valid JSON", null);
    }
    if (root == null || !root.isObject()) {
      throw ApiError.invalidRequest("the request body must be a JSON object", null);
    }
    return (ObjectNode) root;
  }

  static String accountId(String id, String param) {
    try {
      return BillingContext.requireValidAccountId(id);
    } catch (IllegalArgumentException e) {
      throw ApiError.validation(e.getMessage().replaceFirst("^accountId", param), param);
    }
  }

  static String eventId(String eventId) {
    try {
      return LedgerChecks.requireEventId(eventId);
    } catch (IllegalArgumentException e) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "invalid_idempotency_key",
          "Idempotency-Key must be 1-"
              + LedgerChecks.MAX_EVENT_ID_LENGTH
              + " printable ASCII characters without spaces",
          "Idempotency-Key");
    }
  }

  static String cursor(Context ctx) {
    String c = ctx.queryParam("cursor");
    if (c != null && c.length() > 500) {
      throw ApiError.validation("cursor is too long", "cursor");
    }
    return c == null || c.isEmpty() ? null : c;
  }

  static int limit(Context ctx) {
    String l = ctx.queryParam("limit");
    if (l == null || l.isEmpty()) {
      return DEFAULT_PAGE;
    }
    try {
      int n = Integer.parseInt(l);
      if (n < 1 || n > MAX_PAGE) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw ApiError.validation(
          "limit must be an integer between 1 and "
              + MAX_PAGE
              + ", but was '"
              + Authenticator.abbreviate(l)
              + "'",
          "limit");
    }
  }

  /** Puts {@code at} as an ISO-8601 string, or null when it is. */
  static void putInstant(ObjectNode o, String field, Instant at) {
    if (at == null) {
      o.putNull(field);
    } else {
      o.put(field, at.toString());
    }
  }

  static void json(Context ctx, int status, ObjectNode body) {
    ctx.status(status).contentType("application/json").result(body.toString());
  }

  /** {@code {"object":"list","data":[...]}}, each item as {@code toJson} writes it. */
  static <T> ObjectNode list(Iterable<? extends T> items, Function<? super T, ObjectNode> toJson) {
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    items.forEach(item -> data.add(toJson.apply(item)));
    return root;
  }
}

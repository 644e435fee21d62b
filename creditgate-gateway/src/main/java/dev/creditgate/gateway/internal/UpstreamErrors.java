package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.gateway.ApiError;
import io.javalin.http.Context;

/** Passes an upstream's error answer back to the client. */
final class UpstreamErrors {

  private UpstreamErrors() {}

  /**
   * Writes the upstream's error with its status (502 for a status that is not an error), in the
   * upstream's error body when it has one; returns the status written.
   */
  static int relay(Context ctx, int status, JsonNode parsed, byte[] answer) {
    int passed = status >= 400 && status <= 599 ? status : 502;
    if (parsed != null && parsed.path("error").isObject()) {
      ctx.status(passed).contentType("application/json").result(answer);
    } else {
      ApiError e =
          new ApiError(
              passed, "upstream_error", "upstream_error", "the upstream answered HTTP " + status);
      ctx.status(passed).contentType("application/json").result(Json.errorBytes(e));
    }
    return passed;
  }
}

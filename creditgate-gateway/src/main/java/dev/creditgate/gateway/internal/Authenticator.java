package dev.creditgate.gateway.internal;

import dev.creditgate.BillingContext;
import dev.creditgate.Checks;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.ApiKeyStore;
import dev.creditgate.ledger.LedgerUnavailableException;
import io.javalin.http.Context;
import java.util.Locale;
import java.util.Optional;

/** Turns the request's bearer key and account headers into who pays, or a 401/403/400. */
public final class Authenticator {

  public static final String ACCOUNT_HEADER = "X-Creditgate-Account";
  public static final String SKIP_CHARGE_HEADER = "X-Creditgate-Skip-Charge";

  /**
   * The caller: the key used, the account billed (blank for none) and whether to skip the charge.
   */
  public record Principal(ApiKey key, String accountId, boolean skipCharge) {}

  private final ApiKeyStore keys;

  public Authenticator(ApiKeyStore keys) {
    this.keys = keys;
  }

  public Principal authenticate(Context ctx) {
    String secret = bearer(ctx.header("Authorization"));
    Optional<ApiKey> found;
    try {
      found = keys.authenticate(secret);
    } catch (LedgerUnavailableException e) {
      throw new ApiError(
          503, "server_error", "service_unavailable", "the key store is unavailable; try again");
    }
    ApiKey key =
        found.orElseThrow(
            () ->
                new ApiError(
                    401,
                    "invalid_request_error",
                    "invalid_api_key",
                    "Incorrect API key provided."));
    String account = ctx.header(ACCOUNT_HEADER);
    String skip = ctx.header(SKIP_CHARGE_HEADER);
    if (key.kind() == ApiKey.Kind.USER) {
      if (account != null || skip != null) {
        throw new ApiError(
            403,
            "permission_error",
            "forbidden_header",
            "a user key may not send "
                + (account != null ? ACCOUNT_HEADER : SKIP_CHARGE_HEADER)
                + "; only service keys may");
      }
      return new Principal(key, key.accountId(), false);
    }
    boolean skipCharge = parseSkip(skip);
    if (account == null || account.isBlank()) {
      throw new ApiError(
          400,
          "invalid_request_error",
          "missing_account",
          "a service key must name the account with the " + ACCOUNT_HEADER + " header",
          ACCOUNT_HEADER);
    }
    try {
      BillingContext.requireValidAccountId(account.trim());
    } catch (IllegalArgumentException e) {
      throw new ApiError(
          400, "invalid_request_error", "invalid_account", e.getMessage(), ACCOUNT_HEADER);
    }
    return new Principal(key, account.trim(), skipCharge);
  }

  /** Authenticates any valid key, without the account rules (for listing models). */
  public ApiKey anyKey(Context ctx) {
    try {
      return keys.authenticate(bearer(ctx.header("Authorization")))
          .orElseThrow(
              () ->
                  new ApiError(
                      401,
                      "invalid_request_error",
                      "invalid_api_key",
                      "Incorrect API key provided."));
    } catch (LedgerUnavailableException e) {
      throw new ApiError(
          503, "server_error", "service_unavailable", "the key store is unavailable; try again");
    }
  }

  private static String bearer(String header) {
    if (header == null || header.isBlank()) {
      throw new ApiError(
          401,
          "invalid_request_error",
          "missing_api_key",
          "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.");
    }
    String h = header.trim();
    if (h.length() < 7 || !h.substring(0, 7).equalsIgnoreCase("bearer ")) {
      throw new ApiError(
          401,
          "invalid_request_error",
          "invalid_api_key",
          "The Authorization header must be 'Bearer <key>'.");
    }
    return h.substring(7).trim();
  }

  private static boolean parseSkip(String value) {
    if (value == null) {
      return false;
    }
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "true", "1" -> true;
      case "false", "0", "" -> false;
      default ->
          throw new ApiError(
              400,
              "invalid_request_error",
              "invalid_header",
              SKIP_CHARGE_HEADER + " must be true or false, but was '" + abbreviate(value) + "'",
              SKIP_CHARGE_HEADER);
    };
  }

  /** A header or path value cut short enough to quote in an error message. */
  static String abbreviate(String s) {
    return Checks.abbreviate(s, 64);
  }
}

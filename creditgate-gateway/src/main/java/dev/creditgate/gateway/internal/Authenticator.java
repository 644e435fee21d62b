package dev.creditgate.gateway.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.BillingContext;
import dev.creditgate.Checks;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.ApiKeyStore;
import dev.creditgate.gateway.GatewayLimits;
import dev.creditgate.ledger.LedgerUnavailableException;
import io.javalin.http.Context;
import java.util.Locale;
import java.util.Optional;

/**
 * Turns the request's bearer key and account headers into who pays, or a 401/403/400.
 *
 * <p>A key the store does not remember as valid may need a read of the key table, so such an
 * attempt is let through only while its client address has failed-authentication tokens left
 * ({@link FailedAuthLimiter}), and a failure takes one: an address that has used its failures up
 * gets 429 {@code too_many_authentication_failures} with {@code Retry-After} and costs the database
 * nothing, while other addresses, and keys remembered as valid from any address, are served as
 * before. A valid key takes nothing, so a burst of a new key's calls is never refused.
 */
public final class Authenticator {

  public static final String ACCOUNT_HEADER = "X-Creditgate-Account";
  public static final String SKIP_CHARGE_HEADER = "X-Creditgate-Skip-Charge";

  /** Where Anthropic's clients send their key; read when there is no Authorization header. */
  public static final String API_KEY_HEADER = "x-api-key";

  /**
   * The caller: the key used, the account billed (blank for none) and whether to skip the charge.
   */
  public record Principal(ApiKey key, String accountId, boolean skipCharge) {}

  private final ApiKeyStore keys;
  private final FailedAuthLimiter failures;
  private final ClientAddresses addresses;
  private final GatewayMetrics metrics;

  public Authenticator(
      ApiKeyStore keys, GatewayLimits limits, Ticker ticker, GatewayMetrics metrics) {
    this.keys = keys;
    this.failures =
        new FailedAuthLimiter(limits.authFailuresPerAddress(), limits.authFailureWindow(), ticker);
    this.addresses = new ClientAddresses(limits.clientAddressHeader());
    this.metrics = metrics;
  }

  public Principal authenticate(Context ctx) {
    ApiKey key = key(ctx);
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
    return key(ctx);
  }

  /** The request's valid key, under its client address's failed-authentication limit. */
  private ApiKey key(Context ctx) {
    String apiKeyHeader = ctx.header(API_KEY_HEADER);
    String secret =
        ctx.header("Authorization") == null && apiKeyHeader != null && !apiKeyHeader.isBlank()
            ? apiKeyHeader.trim()
            : bearer(ctx.header("Authorization"));
    Optional<ApiKey> remembered = keys.remembered(secret);
    if (remembered.isPresent()) {
      return remembered.get();
    }
    String address = addresses.of(ctx);
    long waitSeconds = failures.waitSeconds(address);
    if (waitSeconds > 0) {
      metrics.authFailure("throttled");
      throw new ApiError(
              429,
              "rate_limit_error",
              "too_many_authentication_failures",
              "too many requests with an invalid API key from this address; retry in "
                  + waitSeconds
                  + " s")
          .withRetryAfter(waitSeconds);
    }
    Optional<ApiKey> found;
    try {
      found = keys.authenticate(secret);
    } catch (LedgerUnavailableException e) {
      // Counted too: while the key table is away, each such attempt waits for a connection, so a
      // flood of keys never seen is bounded per address then too.
      failures.failed(address);
      throw new ApiError(
          503, "server_error", "service_unavailable", "the key store is unavailable; try again");
    }
    if (found.isPresent()) {
      return found.get();
    }
    failures.failed(address);
    metrics.authFailure("invalid_key");
    throw new ApiError(
        401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
  }

  private static String bearer(String header) {
    if (header == null || header.isBlank()) {
      throw new ApiError(
          401,
          "invalid_request_error",
          "missing_api_key",
          "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or"
              + " 'x-api-key: <key>'.");
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

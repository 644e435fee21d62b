package dev.creditgate;

import java.util.Objects;

/**
 * What one LLM call is billed to, carried from the request to the charge.
 *
 * <p>Every string is non-null (null becomes ""). The account id is either blank, meaning the call
 * has no account and is never charged, or 1-128 characters of {@code [A-Za-z0-9._:@-]}; anything
 * else is rejected at construction with an {@link InvalidArgumentException} naming the value.
 *
 * @param accountId the account charged; blank for none
 * @param eventId idempotency key of the charge: one ledger entry per event id
 * @param scene product feature that made the call, used by price rules
 * @param requestId the request's trace id
 * @param conversationId the conversation the call belongs to
 * @param modelAlias the model alias asked for ({@code lite}, {@code pro}, {@code max}, ...)
 * @param skipCharge set by a trusted caller to admit and not charge this call
 */
public record BillingContext(
    String accountId,
    String eventId,
    String scene,
    String requestId,
    String conversationId,
    String modelAlias,
    boolean skipCharge) {

  /** The longest account id accepted. */
  public static final int MAX_ACCOUNT_ID_LENGTH = 128;

  public BillingContext {
    accountId = Objects.requireNonNullElse(accountId, "");
    eventId = Objects.requireNonNullElse(eventId, "");
    scene = Objects.requireNonNullElse(scene, "");
    requestId = Objects.requireNonNullElse(requestId, "");
    conversationId = Objects.requireNonNullElse(conversationId, "");
    modelAlias = Objects.requireNonNullElse(modelAlias, "");
    String trimmed = accountId.trim();
    if (!trimmed.isEmpty()) {
      requireValidAccountId(trimmed);
    }
  }

  /** A context for {@code accountId} with every other field empty. */
  public static BillingContext forAccount(String accountId) {
    return new BillingContext(accountId, "", "", "", "", "", false);
  }

  /**
   * Checks an account id and returns it. The alphabet keeps Redis hash-tag braces and spaces out of
   * cache keys. Checked by hand rather than with a regular expression: every cache call runs it.
   *
   * @throws InvalidArgumentException for {@code accountId}, naming the value, when it is not 1-128
   *     characters of {@code [A-Za-z0-9._:@-]}
   */
  public static String requireValidAccountId(String accountId) {
    if (accountId == null || accountId.isEmpty() || accountId.length() > MAX_ACCOUNT_ID_LENGTH) {
      throw invalidAccountId(accountId);
    }
    for (int i = 0; i < accountId.length(); i++) {
      char c = accountId.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '.'
              || c == '_'
              || c == ':'
              || c == '@'
              || c == '-';
      if (!ok) {
        throw invalidAccountId(accountId);
      }
    }
    return accountId;
  }

  private static InvalidArgumentException invalidAccountId(String accountId) {
    return new InvalidArgumentException(
        "accountId",
        "accountId must be 1-"
            + MAX_ACCOUNT_ID_LENGTH
            + " characters of [A-Za-z0-9._:@-], but was "
            + describe(accountId));
  }

  private static String describe(String value) {
    if (value == null) {
      return "null";
    }
    if (value.length() > MAX_ACCOUNT_ID_LENGTH) {
      return "'" + value.substring(0, 32) + "...' (" + value.length() + " chars)";
    }
    return "'" + value + "'";
  }

  /** The same context with every string trimmed. */
  public BillingContext normalize() {
    // trim() returns the same instance when there is nothing to trim: the common case allocates
    // nothing.
    if (accountId.trim() == accountId
        && eventId.trim() == eventId
        && scene.trim() == scene
        && requestId.trim() == requestId
        && conversationId.trim() == conversationId
        && modelAlias.trim() == modelAlias) {
      return this;
    }
    return new BillingContext(
        accountId.trim(),
        eventId.trim(),
        scene.trim(),
        requestId.trim(),
        conversationId.trim(),
        modelAlias.trim(),
        skipCharge);
  }

  /** Whether the call has an account to check and charge. */
  public boolean hasAccount() {
    return !accountId.isBlank();
  }

  /** Whether nothing at all is set: no account, no ids, no scene, no alias, no skip flag. */
  public boolean isEmpty() {
    return accountId.isBlank()
        && eventId.isBlank()
        && scene.isBlank()
        && requestId.isBlank()
        && conversationId.isBlank()
        && modelAlias.isBlank()
        && !skipCharge;
  }

  public BillingContext withEventId(String value) {
    return new BillingContext(
        accountId, value, scene, requestId, conversationId, modelAlias, skipCharge);
  }

  public BillingContext withScene(String value) {
    return new BillingContext(
        accountId, eventId, value, requestId, conversationId, modelAlias, skipCharge);
  }

  public BillingContext withRequestId(String value) {
    return new BillingContext(
        accountId, eventId, scene, value, conversationId, modelAlias, skipCharge);
  }

  public BillingContext withConversationId(String value) {
    return new BillingContext(accountId, eventId, scene, requestId, value, modelAlias, skipCharge);
  }

  public BillingContext withModelAlias(String value) {
    return new BillingContext(
        accountId, eventId, scene, requestId, conversationId, value, skipCharge);
  }

  public BillingContext withSkipCharge(boolean value) {
    return new BillingContext(
        accountId, eventId, scene, requestId, conversationId, modelAlias, value);
  }
}

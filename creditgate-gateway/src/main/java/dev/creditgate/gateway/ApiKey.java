package dev.creditgate.gateway;

import java.time.Instant;

/**
 * An API key as stored: never the secret, only its hash and a short prefix to recognise it by.
 *
 * @param accountId the account a USER key spends for; empty for a SERVICE key
 * @param revokedAt when it was revoked, or null while it is valid
 */
public record ApiKey(
    String id,
    String prefix,
    Kind kind,
    String accountId,
    String label,
    Instant createdAt,
    Instant revokedAt) {

  /** What a key may do. */
  public enum Kind {
    /** Spends for its one account; may not name another or skip charging. */
    USER,
    /** A trusted backend: names the account per request and may skip charging. */
    SERVICE
  }

  public boolean revoked() {
    return revokedAt != null;
  }
}

package dev.creditgate.gateway;

import dev.creditgate.ledger.LedgerUnavailableException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where {@link ApiKeyStore} keeps API keys: rows of a key table, never a secret, only its SHA-256.
 * Every operation is bounded in time.
 *
 * <p>Each operation throws {@link LedgerUnavailableException} when the database cannot be reached
 * in time: the keys share the ledger's database, and callers treat an outage of either alike.
 */
public interface ApiKeyRecords extends AutoCloseable {

  /** Stores a new key under {@code keyHash}, the hex SHA-256 of its secret. */
  void insert(ApiKey key, String keyHash);

  /**
   * The key stored under {@code keyHash}, revoked or not. The stored hash is compared with the one
   * given in constant time, so timing does not tell how much of a guess matched.
   */
  Optional<ApiKey> findByHash(String keyHash);

  Optional<ApiKey> find(String id);

  /** Keys of {@code accountId} (all keys when null), oldest first. */
  List<ApiKey> list(String accountId);

  /** Marks the key revoked at {@code at}, unless it already is; an unknown id changes nothing. */
  void revoke(String id, Instant at);

  /** The keys revoked at or after {@code fromMillis} (epoch millis): revocation time by key id. */
  Map<String, Long> revokedSince(long fromMillis);

  /** Releases what the records own (a connection pool); the default owns nothing. */
  @Override
  default void close() {}
}

package dev.creditgate.redis;

/**
 * The names a cache with one key prefix uses in Redis: both keys of an account carry the account as
 * a hash tag, so they share one cluster slot and one {@code MGET} reads both.
 */
record RedisKeys(String prefix) {

  /** The key of the account's snapshot. */
  String snapshot(String account) {
    return prefix + ":{" + account + "}:snapshot";
  }

  /** The key of the account's blocked marker. */
  String marker(String account) {
    return prefix + ":{" + account + "}:blocked";
  }

  /** The pub/sub channel every write announces its account on. */
  String invalidationChannel() {
    return prefix + ":invalidations";
  }
}

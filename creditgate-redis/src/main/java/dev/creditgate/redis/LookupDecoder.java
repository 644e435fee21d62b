package dev.creditgate.redis;

import dev.creditgate.CacheLookup;
import dev.creditgate.CreditSnapshot;
import dev.creditgate.internal.ThrottledLog;
import io.lettuce.core.KeyValue;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.LoggerFactory;

/**
 * Turns one account's {@code MGET} reply (snapshot, then marker) into a {@link CacheLookup}. A
 * value that is not in {@link SnapshotCodec}'s format counts as absent, with a throttled warning
 * that names its key, so a stray writer cannot make lookups fail.
 */
final class LookupDecoder {

  private final RedisKeys keys;

  /** Logged under the cache's name, where operators look for it. */
  private final ThrottledLog malformedLog =
      new ThrottledLog(
          LoggerFactory.getLogger(RedisCreditCache.class), TimeUnit.SECONDS.toNanos(10));

  LookupDecoder(RedisKeys keys) {
    this.keys = keys;
  }

  /** The lookup in {@code values}: the account's snapshot value, then its marker value. */
  CacheLookup decode(String account, List<KeyValue<String, String>> values) {
    String rawSnapshot = values.get(0).getValueOrElse(null);
    String rawMarker = values.get(1).getValueOrElse(null);
    CreditSnapshot snapshot = SnapshotCodec.decode(rawSnapshot);
    if (snapshot == null && rawSnapshot != null) {
      malformedLog.warn(
          System.nanoTime(),
          "ignoring malformed credit snapshot at {}: '{}'",
          keys.snapshot(account),
          rawSnapshot);
    }
    long marker = SnapshotCodec.decodeMarker(rawMarker);
    if (marker < CacheLookup.NO_MARKER) {
      malformedLog.warn(
          System.nanoTime(),
          "ignoring malformed blocked marker at {}: '{}'",
          keys.marker(account),
          rawMarker);
      marker = CacheLookup.NO_MARKER;
    }
    return marker == CacheLookup.NO_MARKER && snapshot == null
        ? CacheLookup.EMPTY
        : new CacheLookup(marker, snapshot);
  }
}

package dev.creditgate.redis;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.CacheLookup;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The in-process layer in front of Redis. Entries live at most {@code ttl} (the hard staleness
 * bound, even if invalidation messages are lost) and are evicted as soon as an invalidation for
 * their account arrives.
 *
 * <p>A load races with invalidations: a lookup may read Redis before a write and finish after the
 * write's invalidation was handled. Each account hashes to an epoch stripe that every invalidation
 * bumps; a load records the stripe (and the global epoch) before it reads Redis and its result is
 * dropped if either moved meanwhile.
 *
 * <p>A state this instance wrote itself is kept as written ({@link #putWritten}) unless an
 * invalidation from another instance arrived for its stripe while the write was under way (the
 * stripe's remote epoch, bumped by messages only, moved) or a newer version is kept already.
 */
final class NearCache {

  private static final int STRIPES = 4096;

  private final Cache<String, CacheLookup> entries;
  private final AtomicLongArray stripes = new AtomicLongArray(STRIPES);

  /** Per stripe, the invalidations from other instances only. */
  private final AtomicLongArray remoteStripes = new AtomicLongArray(STRIPES);

  private final AtomicLong globalEpoch = new AtomicLong();
  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder invalidations = new LongAdder();
  private final LongAdder subscriptionDrops = new LongAdder();
  private volatile boolean listening;

  NearCache(Duration ttl, long maximumSize, Ticker ticker) {
    this.entries =
        Caffeine.newBuilder().expireAfterWrite(ttl).maximumSize(maximumSize).ticker(ticker).build();
  }

  /** The cached lookup, or null; always null while invalidations may be missed. */
  CacheLookup get(String account) {
    CacheLookup found = listening ? entries.getIfPresent(account) : null;
    if (found == null) {
      misses.increment();
    } else {
      hits.increment();
    }
    return found;
  }

  /** The epochs a load must see unchanged to keep its result, read before the load starts. */
  long stamp(String account) {
    // A stripe would need 2^40 invalidations to wrap into the global epoch's bits.
    return (globalEpoch.get() << 40) + stripes.get(stripe(account));
  }

  /**
   * The epochs a write's own result must see unchanged to be kept: those of invalidations from
   * other instances, read before the write is sent.
   */
  long remoteStamp(String account) {
    return (globalEpoch.get() << 40) + remoteStripes.get(stripe(account));
  }

  /**
   * Keeps a state this instance wrote and Redis stored, unless another instance's invalidation for
   * its stripe arrived since {@code remoteStamp} was read, or a newer version is kept.
   */
  void putWritten(String account, CacheLookup lookup, long remoteStamp) {
    if (!listening || remoteStamp(account) != remoteStamp) {
      return;
    }
    long version = version(lookup);
    entries.asMap().merge(account, lookup, (kept, mine) -> version(kept) >= version ? kept : mine);
    // An invalidation that slipped in between the check and the merge bumped the stamp first.
    if (remoteStamp(account) != remoteStamp) {
      entries.invalidate(account);
    }
  }

  private static long version(CacheLookup lookup) {
    return lookup.snapshot() == null ? -1 : lookup.snapshot().version();
  }

  void putIfUnchanged(String account, CacheLookup lookup, long stamp) {
    if (!listening || stamp(account) != stamp) {
      return;
    }
    entries.put(account, lookup);
    // An invalidation that slipped in between the check and the put bumped the stamp first.
    if (stamp(account) != stamp) {
      entries.invalidate(account);
    }
  }

  void invalidate(String account) {
    stripes.incrementAndGet(stripe(account));
    entries.invalidate(account);
  }

  void onInvalidationMessage(String account) {
    invalidations.increment();
    remoteStripes.incrementAndGet(stripe(account));
    invalidate(account);
  }

  /** Invalidations flow: entries may be cached. */
  void startListening() {
    globalEpoch.incrementAndGet();
    entries.invalidateAll();
    listening = true;
  }

  /** Invalidations may be lost (the subscription dropped): cache nothing until it is back. */
  void stopListening() {
    listening = false;
    subscriptionDrops.increment();
    globalEpoch.incrementAndGet();
    entries.invalidateAll();
  }

  boolean isListening() {
    return listening;
  }

  long hits() {
    return hits.sum();
  }

  long misses() {
    return misses.sum();
  }

  long invalidations() {
    return invalidations.sum();
  }

  long subscriptionDrops() {
    return subscriptionDrops.sum();
  }

  private static int stripe(String account) {
    int h = account.hashCode();
    return (h ^ (h >>> 16)) & (STRIPES - 1);
  }
}

package dev.creditgate;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The embedded {@link CreditCache}: one process, no network, every call answered at once. An
 * account's marker and snapshot live in one entry, each with its own deadline; the entry expires
 * with the later of the two.
 *
 * <p>Thread-safe. Writes are atomic per account, so the versioned put holds under concurrency.
 */
public final class InMemoryCreditCache implements CreditCache {

  /** Accounts kept at most before the least recently used are evicted. */
  public static final long DEFAULT_MAXIMUM_SIZE = 1_000_000;

  private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
  private static final CompletableFuture<CacheLookup> NOTHING =
      CompletableFuture.completedFuture(CacheLookup.EMPTY);
  private static final CompletableFuture<Boolean> STORED = CompletableFuture.completedFuture(true);
  private static final CompletableFuture<Boolean> NOT_STORED =
      CompletableFuture.completedFuture(false);

  /**
   * An account's cached state; deadlines are ticker readings, and a part past its deadline is gone.
   */
  private record Slot(
      CreditSnapshot snapshot,
      long snapshotDeadline,
      long markerVersion,
      long markerDeadline,
      CompletableFuture<CacheLookup> found) {

    /**
     * A slot and what a lookup of it answers, made once: the hit path allocates nothing (callers
     * only read a completed future).
     */
    Slot(CreditSnapshot snapshot, long snapshotDeadline, long markerVersion, long markerDeadline) {
      this(
          snapshot,
          snapshotDeadline,
          markerVersion,
          markerDeadline,
          CompletableFuture.completedFuture(
              markerVersion == CacheLookup.NO_MARKER && snapshot == null
                  ? CacheLookup.EMPTY
                  : new CacheLookup(markerVersion, snapshot)));
    }

    long deadline() {
      return Math.max(
          snapshot == null ? Long.MIN_VALUE : snapshotDeadline,
          markerVersion == CacheLookup.NO_MARKER ? Long.MIN_VALUE : markerDeadline);
    }

    boolean isEmpty() {
      return snapshot == null && markerVersion == CacheLookup.NO_MARKER;
    }

    /** The slot with whatever expired by {@code now} removed. */
    Slot live(long now) {
      boolean snapshotLive = snapshot != null && now - snapshotDeadline < 0;
      boolean markerLive = markerVersion != CacheLookup.NO_MARKER && now - markerDeadline < 0;
      if (snapshotLive == (snapshot != null)
          && markerLive == (markerVersion != CacheLookup.NO_MARKER)) {
        return this;
      }
      return new Slot(
          snapshotLive ? snapshot : null,
          snapshotDeadline,
          markerLive ? markerVersion : CacheLookup.NO_MARKER,
          markerDeadline);
    }
  }

  private final Cache<String, Slot> slots;
  private final Ticker ticker;

  private InMemoryCreditCache(Builder builder) {
    this.ticker = builder.ticker;
    this.slots =
        Caffeine.newBuilder()
            .ticker(builder.ticker)
            .maximumSize(builder.maximumSize)
            .expireAfter(
                new Expiry<String, Slot>() {
                  @Override
                  public long expireAfterCreate(String key, Slot slot, long now) {
                    return Math.max(0, slot.deadline() - now);
                  }

                  @Override
                  public long expireAfterUpdate(
                      String key, Slot slot, long now, long currentDuration) {
                    return Math.max(0, slot.deadline() - now);
                  }

                  @Override
                  public long expireAfterRead(
                      String key, Slot slot, long now, long currentDuration) {
                    return currentDuration;
                  }
                })
            .build();
  }

  /** A cache with the defaults: system ticker, {@link #DEFAULT_MAXIMUM_SIZE} accounts. */
  public static InMemoryCreditCache create() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public CompletableFuture<CacheLookup> lookup(String accountId) {
    Slot slot = slots.getIfPresent(accountId);
    if (slot == null) {
      return NOTHING;
    }
    Slot live = slot.live(ticker.read());
    if (live != slot) {
      // A part expired: kept trimmed, so the next lookups allocate nothing again.
      slots.asMap().replace(accountId, slot, live);
    }
    return live.found();
  }

  @Override
  public CompletableFuture<Boolean> putSnapshot(
      String accountId, CreditSnapshot snapshot, Duration ttl) {
    Objects.requireNonNull(snapshot, "snapshot");
    long deadline = deadline("ttl", ttl);
    boolean[] stored = new boolean[1];
    slots
        .asMap()
        .compute(
            accountId,
            (key, old) -> {
              Slot current = old == null ? null : old.live(ticker.read());
              if (current != null
                  && current.snapshot() != null
                  && current.snapshot().version() >= snapshot.version()) {
                return current.isEmpty() ? null : current;
              }
              stored[0] = true;
              return current == null
                  ? new Slot(snapshot, deadline, CacheLookup.NO_MARKER, 0)
                  : new Slot(snapshot, deadline, current.markerVersion(), current.markerDeadline());
            });
    return stored[0] ? STORED : NOT_STORED;
  }

  @Override
  public CompletableFuture<Void> setBlocked(String accountId, long version, Duration ttl) {
    if (version < 0) {
      throw new IllegalArgumentException("version must be >= 0, but was " + version);
    }
    long deadline = deadline("ttl", ttl);
    slots
        .asMap()
        .compute(
            accountId,
            (key, old) -> {
              Slot current = old == null ? null : old.live(ticker.read());
              return current == null
                  ? new Slot(null, 0, version, deadline)
                  : new Slot(current.snapshot(), current.snapshotDeadline(), version, deadline);
            });
    return DONE;
  }

  @Override
  public CompletableFuture<Void> clearBlocked(String accountId) {
    slots
        .asMap()
        .computeIfPresent(
            accountId,
            (key, old) -> {
              Slot current = old.live(ticker.read());
              return current.snapshot() == null
                  ? null
                  : new Slot(
                      current.snapshot(), current.snapshotDeadline(), CacheLookup.NO_MARKER, 0);
            });
    return DONE;
  }

  @Override
  public CompletableFuture<Void> invalidate(String accountId) {
    slots.invalidate(accountId);
    return DONE;
  }

  private long deadline(String name, Duration ttl) {
    return ticker.read() + Checks.requirePositive(name, ttl).toNanos();
  }

  /** Options for an {@link InMemoryCreditCache}. */
  public static final class Builder {
    private Ticker ticker = Ticker.systemTicker();
    private long maximumSize = DEFAULT_MAXIMUM_SIZE;

    private Builder() {}

    /** The time source for expiry; tests pass a fake to advance time by hand. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    public Builder maximumSize(long maximumSize) {
      if (maximumSize <= 0) {
        throw new IllegalArgumentException("maximumSize must be positive, but was " + maximumSize);
      }
      this.maximumSize = maximumSize;
      return this;
    }

    public InMemoryCreditCache build() {
      return new InMemoryCreditCache(this);
    }
  }
}

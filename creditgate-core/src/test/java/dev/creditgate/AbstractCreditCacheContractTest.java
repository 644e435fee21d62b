package dev.creditgate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The promises every {@link CreditCache} backend keeps. A backend's test extends this class and
 * says how to make a cache and how to let time pass (a fake ticker in process, a real wait on a
 * server with its own clock).
 */
public abstract class AbstractCreditCacheContractTest {

  private static final AtomicLong ACCOUNTS = new AtomicLong();

  protected CreditCache cache;

  /** A fresh, empty cache; each call may share a server but must not see other tests' keys. */
  protected abstract CreditCache createCache();

  /** Lets {@code duration} pass for the cache's expiry. */
  protected abstract void elapse(Duration duration);

  /** A TTL short enough to wait out; in-process caches may use a long one with a fake ticker. */
  protected Duration shortTtl() {
    return Duration.ofMinutes(10);
  }

  /** Releases what {@link #createCache()} made. */
  protected void closeCache(CreditCache cache) {}

  @BeforeEach
  void setUpCache() {
    cache = createCache();
  }

  @AfterEach
  void tearDownCache() {
    closeCache(cache);
  }

  protected static String newAccount() {
    return "acct-"
        + ACCOUNTS.incrementAndGet()
        + "-"
        + ThreadLocalRandom.current().nextInt(1_000_000);
  }

  protected static CreditSnapshot snapshot(long balance, boolean blocked, long version) {
    return new CreditSnapshot(
        balance, blocked, version, Instant.parse("2026-11-26T10:00:00Z").plusMillis(version));
  }

  private static <T> T get(CompletableFuture<T> future) {
    try {
      return future.get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("cache call failed", e);
    }
  }

  private CacheLookup lookup(String account) {
    return get(cache.lookup(account));
  }

  @Test
  void lookupOfUnknownAccountFindsNothing() {
    CacheLookup found = lookup(newAccount());
    assertThat(found.hasMarker()).isFalse();
    assertThat(found.snapshot()).isNull();
  }

  @Test
  void snapshotRoundTripsEveryField() {
    String account = newAccount();
    CreditSnapshot stored =
        new CreditSnapshot(-42, true, 7, Instant.now().truncatedTo(ChronoUnit.MILLIS));
    assertThat(get(cache.putSnapshot(account, stored, shortTtl()))).isTrue();
    assertThat(lookup(account).snapshot()).isEqualTo(stored);
  }

  @Test
  void lookupReturnsMarkerAndSnapshotTogether() {
    String account = newAccount();
    get(cache.putSnapshot(account, snapshot(0, false, 3), shortTtl()));
    get(cache.setBlocked(account, 3, shortTtl()));
    CacheLookup found = lookup(account);
    assertThat(found.markerVersion()).isEqualTo(3);
    assertThat(found.snapshot()).isEqualTo(snapshot(0, false, 3));
    assertThat(found.markerApplies()).isTrue();
  }

  @Test
  void olderSnapshotNeverReplacesNewer() {
    String account = newAccount();
    assertThat(get(cache.putSnapshot(account, snapshot(500, false, 5), shortTtl()))).isTrue();
    assertThat(get(cache.putSnapshot(account, snapshot(0, true, 4), shortTtl()))).isFalse();
    assertThat(get(cache.putSnapshot(account, snapshot(1, false, 5), shortTtl()))).isFalse();
    assertThat(lookup(account).snapshot()).isEqualTo(snapshot(500, false, 5));
    assertThat(get(cache.putSnapshot(account, snapshot(-3, false, 6), shortTtl()))).isTrue();
    assertThat(lookup(account).snapshot()).isEqualTo(snapshot(-3, false, 6));
  }

  @Test
  void concurrentVersionedWritesKeepTheHighestVersion() throws Exception {
    String account = newAccount();
    List<Long> versions = new ArrayList<>();
    for (long v = 1; v <= 200; v++) {
      versions.add(v);
    }
    java.util.Collections.shuffle(versions);
    try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
      List<CompletableFuture<Boolean>> writes = new ArrayList<>();
      for (long v : versions) {
        writes.add(
            CompletableFuture.supplyAsync(
                () -> get(cache.putSnapshot(account, snapshot(v, false, v), shortTtl())), pool));
      }
      CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    }
    assertThat(lookup(account).snapshot()).isEqualTo(snapshot(200, false, 200));
  }

  @Test
  void putStateWritesTheSnapshotWithTheMarkerThatGoesWithIt() {
    String account = newAccount();
    assertThat(get(cache.putState(account, snapshot(0, false, 3), shortTtl(), shortTtl())))
        .isTrue();
    CacheLookup exhausted = lookup(account);
    assertThat(exhausted.snapshot()).isEqualTo(snapshot(0, false, 3));
    assertThat(exhausted.markerVersion()).isEqualTo(3);
    assertThat(exhausted.markerApplies()).isTrue();

    assertThat(get(cache.putState(account, snapshot(50, false, 4), shortTtl(), shortTtl())))
        .isTrue();
    CacheLookup toppedUp = lookup(account);
    assertThat(toppedUp.snapshot()).isEqualTo(snapshot(50, false, 4));
    assertThat(toppedUp.hasMarker()).isFalse();

    // An older state is not stored, though its marker is written (and, older, does not apply).
    assertThat(get(cache.putState(account, snapshot(-5, true, 2), shortTtl(), shortTtl())))
        .isFalse();
    CacheLookup kept = lookup(account);
    assertThat(kept.snapshot()).isEqualTo(snapshot(50, false, 4));
    assertThat(kept.markerVersion()).isEqualTo(2);
    assertThat(kept.markerApplies()).isFalse();
  }

  @Test
  void clearBlockedRemovesOnlyTheMarker() {
    String account = newAccount();
    get(cache.putSnapshot(account, snapshot(10, false, 2), shortTtl()));
    get(cache.setBlocked(account, 2, shortTtl()));
    get(cache.clearBlocked(account));
    CacheLookup found = lookup(account);
    assertThat(found.hasMarker()).isFalse();
    assertThat(found.snapshot()).isEqualTo(snapshot(10, false, 2));
  }

  @Test
  void markerWithoutSnapshotApplies() {
    String account = newAccount();
    get(cache.setBlocked(account, 9, shortTtl()));
    CacheLookup found = lookup(account);
    assertThat(found.markerVersion()).isEqualTo(9);
    assertThat(found.snapshot()).isNull();
    assertThat(found.markerApplies()).isTrue();
  }

  @Test
  void invalidateRemovesEverything() {
    String account = newAccount();
    String other = newAccount();
    get(cache.putSnapshot(account, snapshot(10, false, 2), shortTtl()));
    get(cache.setBlocked(account, 2, shortTtl()));
    get(cache.putSnapshot(other, snapshot(11, false, 1), shortTtl()));
    get(cache.invalidate(account));
    assertThat(lookup(account)).isEqualTo(CacheLookup.EMPTY);
    assertThat(lookup(other).snapshot()).isEqualTo(snapshot(11, false, 1));
  }

  @Test
  void invalidateAllowsAnOlderVersionAgain() {
    String account = newAccount();
    get(cache.putSnapshot(account, snapshot(10, false, 8), shortTtl()));
    get(cache.invalidate(account));
    assertThat(get(cache.putSnapshot(account, snapshot(5, false, 3), shortTtl()))).isTrue();
    assertThat(lookup(account).snapshot()).isEqualTo(snapshot(5, false, 3));
  }

  @Test
  void snapshotExpiresAfterItsTtl() {
    String account = newAccount();
    Duration ttl = shortTtl();
    get(cache.putSnapshot(account, snapshot(10, false, 1), ttl));
    elapse(ttl.dividedBy(4));
    assertThat(lookup(account).snapshot()).isNotNull();
    elapse(ttl);
    assertThat(lookup(account).snapshot()).isNull();
  }

  @Test
  void markerAndSnapshotExpireIndependently() {
    String account = newAccount();
    Duration ttl = shortTtl();
    get(cache.putSnapshot(account, snapshot(0, false, 1), ttl.multipliedBy(4)));
    get(cache.setBlocked(account, 1, ttl));
    elapse(ttl.dividedBy(4));
    assertThat(lookup(account).hasMarker()).isTrue();
    elapse(ttl);
    CacheLookup found = lookup(account);
    assertThat(found.hasMarker()).isFalse();
    assertThat(found.snapshot()).isEqualTo(snapshot(0, false, 1));
  }

  @Test
  void expiredSnapshotDoesNotBlockAnOlderVersion() {
    String account = newAccount();
    Duration ttl = shortTtl();
    get(cache.putSnapshot(account, snapshot(10, false, 8), ttl));
    elapse(ttl.multipliedBy(2));
    assertThat(get(cache.putSnapshot(account, snapshot(5, false, 3), ttl))).isTrue();
  }

  @Test
  void accountsAreIsolated() {
    String a = newAccount();
    String b = newAccount();
    get(cache.setBlocked(a, 1, shortTtl()));
    get(cache.putSnapshot(b, snapshot(3, false, 1), shortTtl()));
    assertThat(lookup(a).snapshot()).isNull();
    assertThat(lookup(b).hasMarker()).isFalse();
  }

  @Test
  void nonPositiveTtlIsRejectedAndStoresNothing() {
    String account = newAccount();
    assertRejected(() -> cache.putSnapshot(account, snapshot(1, false, 1), Duration.ZERO));
    assertRejected(() -> cache.setBlocked(account, 1, Duration.ofSeconds(-1)));
    assertThat(lookup(account)).isEqualTo(CacheLookup.EMPTY);
  }

  /** A bad argument may be thrown or returned as a failed future; either way it names the value. */
  private static void assertRejected(java.util.function.Supplier<CompletableFuture<?>> call) {
    assertThatThrownBy(
            () -> {
              CompletableFuture<?> future = call.get();
              try {
                future.get(5, TimeUnit.SECONDS);
              } catch (java.util.concurrent.ExecutionException e) {
                throw e.getCause();
              }
            })
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ttl");
  }
}

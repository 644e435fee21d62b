package dev.creditgate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.creditgate.Admission.Reason;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The guard's steps, branch by branch (no cache, skips, marker, cached snapshot, store fetch,
 * decision), and its rules.
 */
class CreditBalanceGuardTest {

  private static final Duration FETCH_TIMEOUT = Duration.ofSeconds(1);
  private static final Duration CACHE_BUDGET = Duration.ofMillis(50);

  private final FakeTicker ticker = new FakeTicker();
  private final ScriptedCache cache = new ScriptedCache(ticker);
  private final ScriptedStore store = new ScriptedStore();
  private final RecordingListener stats = new RecordingListener();
  private final List<CreditBalanceGuard> guards = new ArrayList<>();

  private CreditBalanceGuard guard() {
    return guard(false);
  }

  private CreditBalanceGuard guard(boolean failClosed) {
    return guard(failClosed, PendingDebits.NONE);
  }

  private CreditBalanceGuard guard(PendingDebits pending) {
    return guard(false, pending);
  }

  private CreditBalanceGuard guard(boolean failClosed, PendingDebits pending) {
    CreditBalanceGuard guard =
        CreditBalanceGuard.builder()
            .cache(cache)
            .pendingDebits(pending)
            .snapshotProvider(store)
            .fetchTimeout(FETCH_TIMEOUT)
            .cacheTimeout(CACHE_BUDGET)
            .failClosed(failClosed)
            .listener(stats)
            .ticker(ticker)
            .build();
    guards.add(guard);
    return guard;
  }

  /** Records each decision's reason and how long it took. */
  private static final class RecordingListener implements GuardListener {
    final List<Reason> reasons = new CopyOnWriteArrayList<>();
    final List<Long> nanos = new CopyOnWriteArrayList<>();

    @Override
    public void onDecision(BillingContext context, Admission admission, long took) {
      reasons.add(admission.reason());
      nanos.add(took);
    }
  }

  @AfterEach
  void closeGuards() {
    guards.forEach(CreditBalanceGuard::close);
  }

  private static CreditSnapshot snap(long balance, boolean blocked, long version) {
    return new CreditSnapshot(balance, blocked, version, Instant.parse("2026-11-26T00:00:00Z"));
  }

  private static BillingContext ctx(String account) {
    return BillingContext.forAccount(account);
  }

  private CacheLookup cached(String account) {
    return cache.delegate.lookup(account).join();
  }

  @Nested
  class NotWired {
    @Test
    void guardWithoutCacheAdmitsEverythingAndTouchesNothing() {
      store.accounts.put("u1", snap(0, true, 1));
      try (CreditBalanceGuard guard =
          CreditBalanceGuard.builder().snapshotProvider(store).build()) {
        assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.NOT_WIRED);
      }
      assertThat(store.fetches).hasValue(0);
    }
  }

  @Nested
  class Skips {
    @Test
    void noAccountIsAdmittedWithoutAnyCall() {
      assertThat(guard().check(ctx("  ")).reason()).isEqualTo(Reason.SKIPPED_NO_ACCOUNT);
      assertThat(cache.lookups).hasValue(0);
      assertThat(store.fetches).hasValue(0);
    }

    @Test
    void skipChargeIsAdmittedWithoutAnyCallEvenWhenBlocked() {
      store.accounts.put("u1", snap(0, true, 1));
      cache.delegate.setBlocked("u1", 1, Duration.ofMinutes(5));
      assertThat(guard().check(ctx("u1").withSkipCharge(true)).reason())
          .isEqualTo(Reason.SKIPPED_SKIP_CHARGE);
      assertThat(cache.lookups).hasValue(0);
      assertThat(store.fetches).hasValue(0);
    }

    @Test
    void contextIsNormalisedBeforeTheLookup() {
      cache.delegate.putSnapshot("u1", snap(10, false, 1), Duration.ofMinutes(10));
      assertThat(guard().check(new BillingContext(" u1\t", "", "", "", "", "", false)).reason())
          .isEqualTo(Reason.BALANCE_POSITIVE);
      assertThat(store.fetches).hasValue(0);
    }
  }

  @Nested
  class BlockedMarker {
    @Test
    void markerSetIsDeniedWithoutTouchingTheStore() {
      cache.delegate.setBlocked("u1", 0, Duration.ofMinutes(5));
      store.accounts.put("u1", snap(100, false, 0));
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_BLOCKED_MARKER);
      assertThat(store.fetches).hasValue(0);
    }

    @Test
    void cacheReadErrorFailsOpen() {
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      store.accounts.put("u1", snap(0, true, 1));
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_CACHE_ERROR);
      assertThat(store.fetches).hasValue(0);
    }

    @Test
    void cacheThrowingFailsOpen() {
      cache.lookupFault = ScriptedCache.Fault.THROW;
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_CACHE_ERROR);
    }
  }

  @Nested
  class CachedSnapshot {
    @Test
    void positiveSnapshotIsAdmittedInOneRoundTrip() {
      cache.delegate.putSnapshot("u1", snap(1, false, 1), Duration.ofMinutes(10));
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
      assertThat(cache.lookups).hasValue(1);
      assertThat(cache.writes).hasValue(0);
      assertThat(store.fetches).hasValue(0);
    }
  }

  @Nested
  class StoreFetch {
    @Test
    void missWithoutStoreIsAdmitted() {
      try (CreditBalanceGuard guard = CreditBalanceGuard.builder().cache(cache).build()) {
        assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.NO_SNAPSHOT);
      }
    }

    @Test
    void storeReturningNothingIsAdmittedAndCachesNothing() {
      assertThat(guard().check(ctx("unknown")).reason()).isEqualTo(Reason.NO_SNAPSHOT);
      assertThat(store.fetches).hasValue(1);
      assertThat(cached("unknown")).isEqualTo(CacheLookup.EMPTY);
    }

    @Test
    void storeErrorFailsOpen() {
      store.failure = new IllegalStateException("db down");
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_STORE_ERROR);
    }

    @Test
    void storeSlowerThanItsTimeoutFailsOpenWithinTheTimeout() {
      store.accounts.put("u1", snap(0, false, 1));
      store.delay = Duration.ofSeconds(4);
      long start = System.nanoTime();
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_STORE_TIMEOUT);
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isLessThan(FETCH_TIMEOUT.plusMillis(1500));
    }

    @Test
    void positiveBalanceIsAdmittedBackFilledAndMarkerCleared() {
      store.accounts.put("u1", snap(50, false, 4));
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
      CacheLookup found = cached("u1");
      assertThat(found.snapshot()).isEqualTo(snap(50, false, 4));
      assertThat(found.hasMarker()).isFalse();
    }

    @Test
    void nonPositiveBalanceIsDeniedBackFilledAndMarked() {
      store.accounts.put("u1", snap(0, false, 4));
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
      CacheLookup found = cached("u1");
      assertThat(found.snapshot()).isEqualTo(snap(0, false, 4));
      assertThat(found.markerVersion()).isEqualTo(4);
    }

    @Test
    void backFillFailureIsNotFatal() {
      store.accounts.put("u1", snap(50, false, 4));
      cache.writeFault = ScriptedCache.Fault.FAIL;
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
      assertThat(cached("u1")).isEqualTo(CacheLookup.EMPTY);
    }

    @Test
    void backFillSlowerThanTheBudgetDoesNotHoldTheCallerPastTheFetchTimeout() {
      store.accounts.put("u1", snap(50, false, 4));
      cache.writeFault = ScriptedCache.Fault.SLOW;
      long start = System.nanoTime();
      assertThat(guard().check(ctx("u1")).isAdmitted()).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isLessThan(FETCH_TIMEOUT.plusMillis(1500));
    }
  }

  @Nested
  class Decision {
    @Test
    void cachedNonPositiveBalanceIsDeniedAndMarked() {
      cache.delegate.putSnapshot("u1", snap(-5, false, 2), Duration.ofMinutes(10));
      CreditBalanceGuard guard = guard();
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
      assertThat(cached("u1").markerVersion()).isEqualTo(2);
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_BLOCKED_MARKER);
      assertThat(store.fetches).hasValue(0);
    }

    @Test
    void markerWriteFailureStillDenies() {
      cache.delegate.putSnapshot("u1", snap(0, false, 2), Duration.ofMinutes(10));
      cache.writeFault = ScriptedCache.Fault.THROW;
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
    }

    @Test
    void guardThrowsOnDenial() {
      cache.delegate.putSnapshot("u1", snap(0, false, 2), Duration.ofMinutes(10));
      assertThatThrownBy(() -> guard().guard(ctx("u1")))
          .isInstanceOf(CreditBalanceBlockedException.class)
          .hasMessage("credit balance is insufficient")
          .extracting(e -> ((CreditBalanceBlockedException) e).admission().reason())
          .isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
    }
  }

  @Nested
  class Rules {
    @Test
    void storeBlockedAccountWithPositiveBalanceIsDeniedOnFirstSight() {
      store.accounts.put("u1", snap(1_000, true, 3));
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_STORE_BLOCKED);
      assertThat(cached("u1").snapshot().blocked()).isTrue();
    }

    @Test
    void blockDoesNotLapseWhenTheMarkerExpiresBeforeTheSnapshot() {
      store.accounts.put("u1", snap(1_000, true, 3));
      CreditBalanceGuard guard = guard();
      guard.check(ctx("u1"));
      ticker.advance(CreditBalanceGuard.DEFAULT_BLOCKED_TTL.plusSeconds(1));
      assertThat(cached("u1").hasMarker()).isFalse();
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_STORE_BLOCKED);
      assertThat(store.fetches).hasValue(1);
    }

    @Test
    void staleMarkerIsOverriddenByANewerSnapshot() {
      cache.delegate.setBlocked("u1", 3, Duration.ofMinutes(5));
      cache.delegate.putSnapshot("u1", snap(100, false, 4), Duration.ofMinutes(10));
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
    }

    @Test
    void hundredConcurrentMissesMakeOneStoreFetch() throws Exception {
      store.accounts.put("cold", snap(10, false, 1));
      store.gate = new CountDownLatch(1);
      CreditBalanceGuard guard =
          CreditBalanceGuard.builder()
              .cache(cache)
              .snapshotProvider(store)
              .fetchTimeout(Duration.ofSeconds(10))
              .build();
      guards.add(guard);
      int callers = 100;
      CyclicBarrier start = new CyclicBarrier(callers);
      List<CompletableFuture<Admission>> results = new ArrayList<>();
      try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
        for (int i = 0; i < callers; i++) {
          results.add(
              CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      start.await();
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    }
                    return guard.check(ctx("cold"));
                  },
                  pool));
        }
        // Every caller has looked the account up and missed before the store answers.
        await().atMost(Duration.ofSeconds(10)).until(() -> cache.lookups.get() == callers);
        Thread.sleep(50);
        store.gate.countDown();
        for (CompletableFuture<Admission> result : results) {
          assertThat(result.get(10, TimeUnit.SECONDS).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
        }
      }
      assertThat(store.fetches).hasValue(1);
    }

    @Test
    void aFinishedFetchIsNeverHandedToALaterCaller() {
      CreditBalanceGuard guard = guard();
      // Regression: the caller of a fetch could wake before the fetch left the in-flight map, so
      // the next miss joined the old answer ("unknown") after the store had changed.
      for (int i = 0; i < 2_000; i++) {
        String account = "race-" + i;
        assertThat(guard.check(ctx(account)).reason()).isEqualTo(Reason.NO_SNAPSHOT);
        store.accounts.put(account, snap(0, false, 1));
        assertThat(guard.check(ctx(account)).reason())
            .as("call %d", i)
            .isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
      }
    }

    @Test
    void cacheSlowerThanTheBudgetFailsOpenWithoutStalling() {
      cache.lookupFault = ScriptedCache.Fault.SLOW;
      cache.slowBy = Duration.ofSeconds(5);
      long start = System.nanoTime();
      assertThat(guard().check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_CACHE_ERROR);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
    }

    @Test
    void interruptedCallerDoesNotCancelTheFetchAndTheBackFillLands() throws Exception {
      store.accounts.put("u1", snap(0, true, 9));
      store.gate = new CountDownLatch(1);
      CreditBalanceGuard guard =
          CreditBalanceGuard.builder()
              .cache(cache)
              .snapshotProvider(store)
              .fetchTimeout(Duration.ofSeconds(5))
              .build();
      guards.add(guard);
      AtomicReference<Admission> seen = new AtomicReference<>();
      AtomicReference<Boolean> stillInterrupted = new AtomicReference<>();
      Thread caller =
          Thread.ofPlatform()
              .start(
                  () -> {
                    seen.set(guard.check(ctx("u1")));
                    stillInterrupted.set(Thread.currentThread().isInterrupted());
                  });
      await().atMost(Duration.ofSeconds(5)).until(() -> store.fetches.get() == 1);
      caller.interrupt();
      caller.join(5_000);
      assertThat(seen.get().reason()).isEqualTo(Reason.FAIL_OPEN_STORE_TIMEOUT);
      assertThat(stillInterrupted.get()).isTrue();
      assertThat(cached("u1")).isEqualTo(CacheLookup.EMPTY);
      store.gate.countDown();
      await().atMost(Duration.ofSeconds(5)).until(() -> cached("u1").snapshot() != null);
      assertThat(cached("u1").snapshot()).isEqualTo(snap(0, true, 9));
      assertThat(cached("u1").markerVersion()).isEqualTo(9);
    }

    @Test
    void hungStoreDoesNotHoldLaterCallersForever() {
      store.accounts.put("u1", snap(5, false, 1));
      store.gate = new CountDownLatch(1);
      CreditBalanceGuard guard = guard();
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_STORE_TIMEOUT);
      long start = System.nanoTime();
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_STORE_TIMEOUT);
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isLessThan(FETCH_TIMEOUT.plusMillis(1500));
      store.gate.countDown();
    }

    @Test
    void failClosedDeniesWhenNeitherCacheNorStoreAnswers() {
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      store.failure = new IllegalStateException("db down");
      assertThat(guard(true).check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_UNAVAILABLE);
    }

    @Test
    void failClosedAsksTheStoreWhenTheCacheFails() {
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      store.accounts.put("u1", snap(7, false, 1));
      assertThat(guard(true).check(ctx("u1")).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
    }

    @Test
    void failClosedDeniesOnStoreTimeout() {
      store.accounts.put("u1", snap(7, false, 1));
      store.delay = Duration.ofSeconds(4);
      assertThat(guard(true).check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_UNAVAILABLE);
    }

    @Test
    void failClosedWithoutStoreDeniesOnCacheError() {
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      try (CreditBalanceGuard guard =
          CreditBalanceGuard.builder().cache(cache).failClosed(true).build()) {
        assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_UNAVAILABLE);
      }
    }
  }

  @Nested
  class RememberedDenials {
    @Test
    void accountDeniedAMomentAgoIsDeniedAgainWhenTheCacheFails() {
      cache.delegate.putSnapshot("u1", snap(0, false, 3), Duration.ofMinutes(10));
      CreditBalanceGuard guard = guard();
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      ticker.advance(Duration.ofSeconds(29));
      Admission again = guard.check(ctx("u1"));
      assertThat(again.reason()).isEqualTo(Reason.DENIED_RECENT_DENIAL);
      assertThat(again.reason().degraded()).isTrue();
      // Another account, never denied, still fails open.
      assertThat(guard.check(ctx("u2")).reason()).isEqualTo(Reason.FAIL_OPEN_CACHE_ERROR);
      assertThat(store.fetches).hasValue(0);
    }

    @Test
    void theWindowCountsFromTheLastAnsweredDenialNotFromDegradedOnes() {
      cache.delegate.setBlocked("u1", 0, Duration.ofMinutes(5));
      CreditBalanceGuard guard = guard();
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_BLOCKED_MARKER);
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      ticker.advance(Duration.ofSeconds(20));
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_RECENT_DENIAL);
      ticker.advance(Duration.ofSeconds(10));
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_CACHE_ERROR);
    }

    @Test
    void anAdmissionFromAnAnswerForgetsTheDenial() {
      cache.delegate.putSnapshot("u1", snap(0, false, 1), Duration.ofMinutes(10));
      CreditBalanceGuard guard = guard();
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
      // A top-up written by the ledger: a newer snapshot overrides the marker the denial set.
      cache.delegate.putSnapshot("u1", snap(500, false, 2), Duration.ofMinutes(10));
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_CACHE_ERROR);
    }

    @Test
    void aStoreFailureAfterACacheMissAlsoUsesTheRememberedDenial() {
      store.accounts.put("u1", snap(0, true, 1));
      CreditBalanceGuard guard = guard();
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_STORE_BLOCKED);
      cache.delegate.invalidate("u1");
      cache.delegate.clearBlocked("u1");
      store.failure = new IllegalStateException("store down");
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_RECENT_DENIAL);
    }

    @Test
    void zeroTurnsItOffAndFailuresFailOpen() {
      cache.delegate.putSnapshot("u1", snap(0, false, 3), Duration.ofMinutes(10));
      try (CreditBalanceGuard guard =
          CreditBalanceGuard.builder()
              .cache(cache)
              .snapshotProvider(store)
              .rememberDenials(Duration.ZERO)
              .build()) {
        assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
        cache.lookupFault = ScriptedCache.Fault.FAIL;
        assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.FAIL_OPEN_CACHE_ERROR);
      }
    }

    @Test
    void failClosedStillAsksTheStoreFirst() {
      cache.delegate.putSnapshot("u1", snap(0, false, 1), Duration.ofMinutes(10));
      store.accounts.put("u1", snap(700, false, 2));
      CreditBalanceGuard guard = guard(true);
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
    }
  }

  @Nested
  class PendingDebitsSubtracted {
    @Test
    void admittedWhileBalanceLessPendingIsPositive() {
      cache.delegate.putSnapshot("u1", snap(100, false, 1), Duration.ofMinutes(10));
      assertThat(guard((account, snapshot) -> 99).check(ctx("u1")).reason())
          .isEqualTo(Reason.BALANCE_POSITIVE);
    }

    @Test
    void deniedWithItsOwnReasonAndNoMarkerWhenPendingUsesUpTheBalance() {
      cache.delegate.putSnapshot("u1", snap(100, false, 1), Duration.ofMinutes(10));
      CreditBalanceGuard guard = guard((account, snapshot) -> 100);
      Admission denied = guard.check(ctx("u1"));
      assertThat(denied.reason()).isEqualTo(Reason.DENIED_PENDING_DEBITS);
      assertThat(denied.reason().degraded()).isFalse();
      assertThat(cache.writes).hasValue(0);
      assertThat(cached("u1").hasMarker()).isFalse();
      // Judged again on the next call rather than denied by a marker.
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_PENDING_DEBITS);
    }

    @Test
    void aStoreFetchIsJudgedWithPendingAndBackFilledWithoutAMarker() {
      store.accounts.put("u1", snap(100, false, 4));
      assertThat(guard((account, snapshot) -> 150).check(ctx("u1")).reason())
          .isEqualTo(Reason.DENIED_PENDING_DEBITS);
      assertThat(cached("u1"))
          .isEqualTo(new CacheLookup(CacheLookup.NO_MARKER, snap(100, false, 4)));
    }

    @Test
    void pendingIsAskedForTheAccountAndTheSnapshotJudged() {
      cache.delegate.putSnapshot("u1", snap(100, false, 3), Duration.ofMinutes(10));
      List<Object> asked = new ArrayList<>();
      guard(
              (account, snapshot) -> {
                asked.add(account);
                asked.add(snapshot);
                return 0;
              })
          .check(ctx(" u1 "));
      assertThat(asked).containsExactly("u1", snap(100, false, 3));
    }

    @Test
    void aSnapshotThatDeniesAloneKeepsItsReasonAndMarker() {
      cache.delegate.putSnapshot("blocked", snap(100, true, 2), Duration.ofMinutes(10));
      cache.delegate.putSnapshot("poor", snap(0, false, 2), Duration.ofMinutes(10));
      CreditBalanceGuard guard = guard((account, snapshot) -> 1_000);
      assertThat(guard.check(ctx("blocked")).reason()).isEqualTo(Reason.DENIED_STORE_BLOCKED);
      assertThat(guard.check(ctx("poor")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
      assertThat(cached("blocked").markerVersion()).isEqualTo(2);
      assertThat(cached("poor").markerVersion()).isEqualTo(2);
    }

    @Test
    void extremesSaturateInsteadOfOverflowing() {
      cache.delegate.putSnapshot("rich", snap(Long.MAX_VALUE, false, 1), Duration.ofMinutes(10));
      cache.delegate.putSnapshot("one", snap(1, false, 1), Duration.ofMinutes(10));
      assertThat(guard((account, snapshot) -> Long.MAX_VALUE).check(ctx("rich")).reason())
          .isEqualTo(Reason.DENIED_PENDING_DEBITS);
      assertThat(guard((account, snapshot) -> Long.MAX_VALUE - 1).check(ctx("rich")).reason())
          .isEqualTo(Reason.BALANCE_POSITIVE);
      assertThat(guard((account, snapshot) -> Long.MAX_VALUE).check(ctx("one")).reason())
          .isEqualTo(Reason.DENIED_PENDING_DEBITS);
      // A negative answer breaks the SPI's promise; it counts as none rather than as extra credit.
      assertThat(guard((account, snapshot) -> Long.MIN_VALUE).check(ctx("one")).reason())
          .isEqualTo(Reason.BALANCE_POSITIVE);
    }

    @Test
    void aThrowingPendingDebitsCountsAsNone() {
      cache.delegate.putSnapshot("u1", snap(10, false, 1), Duration.ofMinutes(10));
      PendingDebits broken =
          (account, snapshot) -> {
            throw new IllegalStateException("queue gone");
          };
      assertThat(guard(broken).check(ctx("u1")).reason()).isEqualTo(Reason.BALANCE_POSITIVE);
    }

    @Test
    void aPendingDenialIsRememberedWhenTheCacheFails() {
      cache.delegate.putSnapshot("u1", snap(10, false, 1), Duration.ofMinutes(10));
      CreditBalanceGuard guard = guard((account, snapshot) -> 10);
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_PENDING_DEBITS);
      cache.lookupFault = ScriptedCache.Fault.FAIL;
      assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_RECENT_DENIAL);
    }
  }

  @Nested
  class OneLookupPerCheck {
    @Test
    void everyPathReadsTheCacheExactlyOnce() {
      cache.delegate.putSnapshot("rich", snap(100, false, 1), Duration.ofMinutes(10));
      cache.delegate.putSnapshot("owing", snap(100, false, 1), Duration.ofMinutes(10));
      cache.delegate.putSnapshot("poor", snap(0, false, 1), Duration.ofMinutes(10));
      cache.delegate.setBlocked("marked", 0, Duration.ofMinutes(5));
      store.accounts.put("cold", snap(100, false, 1));
      AtomicInteger pendingCalls = new AtomicInteger();
      CreditBalanceGuard guard =
          guard(
              (account, snapshot) -> {
                pendingCalls.incrementAndGet();
                return account.equals("owing") || account.equals("cold") ? 100 : 1;
              });
      List<String> accounts = List.of("rich", "owing", "poor", "marked", "cold", "cold", "unknown");
      List<Reason> expected =
          List.of(
              Reason.BALANCE_POSITIVE,
              Reason.DENIED_PENDING_DEBITS,
              Reason.DENIED_NON_POSITIVE_BALANCE,
              Reason.DENIED_BLOCKED_MARKER,
              Reason.DENIED_PENDING_DEBITS,
              Reason.DENIED_PENDING_DEBITS,
              Reason.NO_SNAPSHOT);
      for (int i = 0; i < accounts.size(); i++) {
        int before = cache.lookups.get();
        assertThat(guard.check(ctx(accounts.get(i))).reason())
            .as(accounts.get(i))
            .isEqualTo(expected.get(i));
        assertThat(cache.lookups.get() - before).as("lookups for %s", accounts.get(i)).isEqualTo(1);
      }
      // Asked once per judged snapshot: rich, owing, cold (fetched), cold (back-filled).
      assertThat(pendingCalls).hasValue(4);
      assertThat(store.fetches).hasValue(2);
    }
  }

  @Nested
  class SharedPublisher {
    @Test
    void aGivenPublisherWritesTheBackFillAndOutlivesTheGuard() {
      store.accounts.put("u1", snap(0, false, 2));
      try (SnapshotPublisher publisher = SnapshotPublisher.builder(cache).build()) {
        try (CreditBalanceGuard guard =
            CreditBalanceGuard.builder().publisher(publisher).snapshotProvider(store).build()) {
          assertThat(guard.publisher()).containsSame(publisher);
          assertThat(guard.check(ctx("u1")).reason()).isEqualTo(Reason.DENIED_NON_POSITIVE_BALANCE);
        }
        assertThat(cached("u1")).isEqualTo(new CacheLookup(2, snap(0, false, 2)));
        publisher.publish("u2", snap(5, false, 1));
        assertThat(publisher.failures()).isZero();
        assertThat(cached("u2").snapshot()).isEqualTo(snap(5, false, 1));
      }
    }

    @Test
    void theGuardsOwnPublisherClosesWithIt() {
      CreditBalanceGuard guard = guard();
      SnapshotPublisher own = guard.publisher().orElseThrow();
      assertThat(own.cache()).isSameAs(cache);
      guard.close();
      own.publish("u1", snap(5, false, 1));
      assertThat(own.failures()).isEqualTo(1);
      assertThat(cached("u1")).isEqualTo(CacheLookup.EMPTY);
    }

    @Test
    void aGuardWithoutCacheHasNoPublisher() {
      try (CreditBalanceGuard guard = CreditBalanceGuard.builder().build()) {
        assertThat(guard.publisher()).isEmpty();
      }
    }

    @Test
    void conflictingOptionsAreRejected() {
      try (SnapshotPublisher publisher = SnapshotPublisher.builder(cache).build()) {
        assertThatThrownBy(
                () ->
                    CreditBalanceGuard.builder().cache(cache.delegate).publisher(publisher).build())
            .isInstanceOf(IllegalStateException.class)
            .hasMessage("the publisher writes to another cache than the guard reads");
        assertThatThrownBy(
                () ->
                    CreditBalanceGuard.builder()
                        .publisher(publisher)
                        .blockedTtl(Duration.ofMinutes(1))
                        .build())
            .isInstanceOf(IllegalStateException.class)
            .hasMessage(
                "snapshotTtl and blockedTtl are the publisher's options when a publisher is given");
      }
    }
  }

  @Nested
  class ListenerAndOptions {
    @Test
    void listenerCountsEveryDecisionByReason() {
      cache.delegate.putSnapshot("rich", snap(10, false, 1), Duration.ofMinutes(10));
      cache.delegate.putSnapshot("poor", snap(0, false, 1), Duration.ofMinutes(10));
      CreditBalanceGuard guard = guard();
      guard.check(ctx("rich"));
      guard.check(ctx("rich"));
      guard.check(ctx("poor"));
      guard.check(ctx(""));
      assertThat(stats.reasons)
          .containsExactly(
              Reason.BALANCE_POSITIVE,
              Reason.BALANCE_POSITIVE,
              Reason.DENIED_NON_POSITIVE_BALANCE,
              Reason.SKIPPED_NO_ACCOUNT);
    }

    @Test
    void listenerTimesDecisionsWithTheInjectedTicker() {
      FakeTicker clock = new FakeTicker();
      CreditCache slowClock =
          new CreditCache() {
            @Override
            public CompletableFuture<CacheLookup> lookup(String accountId) {
              clock.advance(Duration.ofMillis(3));
              return cache.lookup(accountId);
            }

            @Override
            public CompletableFuture<Boolean> putSnapshot(String a, CreditSnapshot s, Duration t) {
              return cache.putSnapshot(a, s, t);
            }

            @Override
            public CompletableFuture<Void> setBlocked(String a, long v, Duration t) {
              return cache.setBlocked(a, v, t);
            }

            @Override
            public CompletableFuture<Void> clearBlocked(String a) {
              return cache.clearBlocked(a);
            }

            @Override
            public CompletableFuture<Void> invalidate(String a) {
              return cache.invalidate(a);
            }
          };
      cache.delegate.putSnapshot("u1", snap(10, false, 1), Duration.ofMinutes(10));
      try (CreditBalanceGuard guard =
          CreditBalanceGuard.builder().cache(slowClock).ticker(clock).listener(stats).build()) {
        guard.check(ctx("u1"));
      }
      assertThat(stats.nanos).containsExactly(Duration.ofMillis(3).toNanos());
    }

    @Test
    void optionsAreValidatedWithTheValueInTheMessage() {
      assertThatThrownBy(() -> CreditBalanceGuard.builder().blockedTtl(Duration.ZERO))
          .hasMessage("blockedTtl must be positive, but was PT0S");
      assertThatThrownBy(() -> CreditBalanceGuard.builder().snapshotTtl(Duration.ofSeconds(-1)))
          .hasMessage("snapshotTtl must be positive, but was PT-1S");
      assertThatThrownBy(() -> CreditBalanceGuard.builder().fetchTimeout(null))
          .hasMessage("fetchTimeout must be positive, but was null");
      assertThatThrownBy(() -> CreditBalanceGuard.builder().cacheTimeout(Duration.ZERO))
          .hasMessage("cacheTimeout must be positive, but was PT0S");
      assertThatThrownBy(() -> CreditBalanceGuard.builder().rememberDenials(Duration.ofSeconds(-2)))
          .hasMessage("rememberDenials must be zero or positive, but was PT-2S");
    }

    @Test
    void defaults() {
      assertThat(CreditBalanceGuard.DEFAULT_BLOCKED_TTL).isEqualTo(Duration.ofMinutes(5));
      assertThat(CreditBalanceGuard.DEFAULT_SNAPSHOT_TTL).isEqualTo(Duration.ofMinutes(10));
      assertThat(CreditBalanceGuard.DEFAULT_FETCH_TIMEOUT).isEqualTo(Duration.ofSeconds(1));
      assertThat(CreditBalanceGuard.DEFAULT_CACHE_TIMEOUT).isEqualTo(Duration.ofMillis(50));
    }
  }
}

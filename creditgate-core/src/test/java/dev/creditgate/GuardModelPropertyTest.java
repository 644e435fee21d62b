package dev.creditgate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.Admission.Reason;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random sequences of store changes, cache faults, passing time and guard calls: after every call
 * the guard's decision equals a plain reference model of its rules (no cache wired, skips, marker,
 * cached snapshot, store fetch and back-fill, fail open or closed, remembered denials), and the
 * model's idea of the cache stays in step with the real in-memory cache.
 */
class GuardModelPropertyTest {

  sealed interface Step permits StoreChange, StoreGone, StoreFault, CacheFault, Elapse, Check {}

  record StoreChange(long balance, boolean blocked) implements Step {}

  record StoreGone() implements Step {}

  record StoreFault(boolean failing) implements Step {}

  record CacheFault(boolean failing) implements Step {}

  record Elapse(int minutes) implements Step {}

  record Check(boolean skipCharge, boolean noAccount) implements Step {}

  /** The reference model: what the cache should hold and what the guard should answer. */
  static final class Model {
    final boolean failClosed;
    long now;
    // store
    CreditSnapshot stored;
    boolean storeFailing;
    long storeVersion;
    // cache
    CreditSnapshot cachedSnapshot;
    long snapshotDeadline;
    long markerVersion = -1;
    long markerDeadline;
    boolean cacheFailing;
    // the guard's memory of its last denial from an answer (stale-if-error for denials)
    Long deniedAt;

    Model(boolean failClosed) {
      this.failClosed = failClosed;
    }

    void expire() {
      if (cachedSnapshot != null && now >= snapshotDeadline) {
        cachedSnapshot = null;
      }
      if (markerVersion >= 0 && now >= markerDeadline) {
        markerVersion = -1;
      }
    }

    Reason check(boolean skip, boolean noAccount) {
      Reason reason = decide(skip, noAccount);
      if (!noAccount && !skip && !reason.degraded()) {
        deniedAt = reason.admitted() ? null : now;
      }
      return reason;
    }

    private Reason failOpen(Reason reason) {
      return deniedAt != null && now - deniedAt < Duration.ofSeconds(30).toNanos()
          ? Reason.DENIED_RECENT_DENIAL
          : reason;
    }

    private Reason decide(boolean skip, boolean noAccount) {
      expire();
      if (noAccount) {
        return Reason.SKIPPED_NO_ACCOUNT;
      }
      if (skip) {
        return Reason.SKIPPED_SKIP_CHARGE;
      }
      if (cacheFailing) {
        return failClosed ? fromStore(true) : failOpen(Reason.FAIL_OPEN_CACHE_ERROR);
      }
      if (markerVersion >= 0
          && (cachedSnapshot == null || markerVersion >= cachedSnapshot.version())) {
        return Reason.DENIED_BLOCKED_MARKER;
      }
      if (cachedSnapshot != null) {
        Reason reason = judge(cachedSnapshot);
        if (!reason.admitted()) {
          setMarker(cachedSnapshot.version());
        }
        return reason;
      }
      return fromStore(false);
    }

    private Reason fromStore(boolean cacheFailed) {
      if (storeFailing) {
        return failClosed ? Reason.DENIED_UNAVAILABLE : failOpen(Reason.FAIL_OPEN_STORE_ERROR);
      }
      if (stored == null) {
        return Reason.NO_SNAPSHOT;
      }
      if (!cacheFailing) {
        if (cachedSnapshot == null || cachedSnapshot.version() < stored.version()) {
          cachedSnapshot = stored;
          snapshotDeadline = now + Duration.ofMinutes(10).toNanos();
        }
        if (stored.canSpend()) {
          markerVersion = -1;
        } else {
          setMarker(stored.version());
        }
      }
      return judge(stored);
    }

    private void setMarker(long version) {
      if (!cacheFailing) {
        markerVersion = version;
        markerDeadline = now + Duration.ofMinutes(5).toNanos();
      }
    }

    private static Reason judge(CreditSnapshot s) {
      if (s.blocked()) {
        return Reason.DENIED_STORE_BLOCKED;
      }
      return s.availableCredit() > 0 ? Reason.BALANCE_POSITIVE : Reason.DENIED_NON_POSITIVE_BALANCE;
    }
  }

  @Property(tries = 300)
  void guardAgreesWithTheReferenceModel(
      @ForAll("steps") List<Step> steps, @ForAll boolean failClosed) {
    FakeTicker ticker = new FakeTicker();
    ScriptedCache cache = new ScriptedCache(ticker);
    ScriptedStore store = new ScriptedStore();
    Model model = new Model(failClosed);
    model.now = ticker.read();
    // Retries far off: the model has a failed back-fill change nothing, and a retry landing later
    // in real time would make the outcome depend on how fast the try runs.
    try (SnapshotPublisher publisher =
            SnapshotPublisher.builder(cache).retryBackoff(Duration.ofHours(1)).build();
        CreditBalanceGuard guard =
            CreditBalanceGuard.builder()
                .cache(cache)
                .snapshotProvider(store)
                .publisher(publisher)
                .failClosed(failClosed)
                .fetchTimeout(Duration.ofSeconds(5))
                .ticker(ticker)
                .build()) {
      for (Step step : steps) {
        switch (step) {
          case StoreChange c -> {
            model.storeVersion++;
            model.stored =
                new CreditSnapshot(c.balance(), c.blocked(), model.storeVersion, Instant.EPOCH);
            store.accounts.put("u", model.stored);
          }
          case StoreGone g -> {
            model.stored = null;
            store.accounts.remove("u");
          }
          case StoreFault f -> {
            model.storeFailing = f.failing();
            store.failure = f.failing() ? new IllegalStateException("store down") : null;
          }
          case CacheFault f -> {
            model.cacheFailing = f.failing();
            cache.lookupFault = f.failing() ? ScriptedCache.Fault.FAIL : ScriptedCache.Fault.NONE;
            cache.writeFault = cache.lookupFault;
          }
          case Elapse e -> {
            ticker.advance(Duration.ofMinutes(e.minutes()));
            model.now = ticker.read();
          }
          case Check c -> {
            BillingContext ctx =
                BillingContext.forAccount(c.noAccount() ? "" : "u").withSkipCharge(c.skipCharge());
            Reason expected = model.check(c.skipCharge(), c.noAccount());
            assertThat(guard.check(ctx).reason()).as("after %s", steps).isEqualTo(expected);
            CacheLookup real = cache.delegate.lookup("u").join();
            assertThat(real.snapshot()).isEqualTo(model.cachedSnapshot);
            assertThat(real.markerVersion()).isEqualTo(model.markerVersion);
          }
        }
      }
    }
  }

  @Provide
  Arbitrary<List<Step>> steps() {
    Arbitrary<Step> change =
        Combinators.combine(
                Arbitraries.longs().between(-50, 50),
                Arbitraries.integers().between(0, 4).map(i -> i == 0))
            .as(StoreChange::new);
    Arbitrary<Step> gone = Arbitraries.just(new StoreGone());
    Arbitrary<Step> storeFault =
        Arbitraries.integers().between(0, 3).map(i -> new StoreFault(i == 0));
    Arbitrary<Step> cacheFault =
        Arbitraries.integers().between(0, 3).map(i -> new CacheFault(i == 0));
    Arbitrary<Step> elapse = Arbitraries.integers().between(0, 12).map(Elapse::new);
    Arbitrary<Step> check =
        Combinators.combine(
                Arbitraries.integers().between(0, 9).map(i -> i == 0),
                Arbitraries.integers().between(0, 9).map(i -> i == 0))
            .as(Check::new);
    return Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(3, change),
            net.jqwik.api.Tuple.of(1, gone),
            net.jqwik.api.Tuple.of(1, storeFault),
            net.jqwik.api.Tuple.of(1, cacheFault),
            net.jqwik.api.Tuple.of(3, elapse),
            net.jqwik.api.Tuple.of(8, check))
        .list()
        .ofMinSize(1)
        .ofMaxSize(40);
  }
}

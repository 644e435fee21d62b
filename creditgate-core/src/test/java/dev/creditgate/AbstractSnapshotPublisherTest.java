package dev.creditgate;

import static dev.creditgate.AbstractCreditCacheContractTest.newAccount;
import static dev.creditgate.AbstractCreditCacheContractTest.snapshot;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What {@link SnapshotPublisher} promises on every cache backend: versioned writes with the blocked
 * marker that goes with them, batches, retries that land, and invalidation when they all fail. A
 * backend's test extends this class and says how to make a cache; faults are injected by a {@link
 * ScriptedCache} wrapped around the real backend, so what lands is read back from it.
 */
public abstract class AbstractSnapshotPublisherTest {

  /** Generous, so a slow machine or a cluster does not turn a first attempt into a retry. */
  private static final Duration TIMEOUT = Duration.ofSeconds(2);

  private static final Duration RETRY_BACKOFF = Duration.ofMillis(1);

  private CreditCache backend;
  protected ScriptedCache cache;
  protected SnapshotPublisher publisher;

  /** A fresh cache; it may share a server with other tests but must not see their keys. */
  protected abstract CreditCache createCache();

  /** Releases what {@link #createCache()} made. */
  protected void closeCache(CreditCache cache) {}

  @BeforeEach
  void setUpPublisher() {
    backend = createCache();
    cache = new ScriptedCache(backend);
    publisher =
        SnapshotPublisher.builder(cache).timeout(TIMEOUT).retryBackoff(RETRY_BACKOFF).build();
  }

  @AfterEach
  void tearDownPublisher() {
    publisher.close();
    closeCache(backend);
  }

  /** What the backend holds for the account, read past the fault injection. */
  protected CacheLookup stored(String account) {
    try {
      return backend.lookup(account).get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("cache lookup failed", e);
    }
  }

  @Test
  void spendableSnapshotIsWrittenAndClearsTheMarkerBeforePublishReturns() throws Exception {
    String account = newAccount();
    backend.setBlocked(account, 1, Duration.ofMinutes(5)).get(5, TimeUnit.SECONDS);
    publisher.publish(account, snapshot(100, false, 2));
    assertThat(stored(account))
        .isEqualTo(new CacheLookup(CacheLookup.NO_MARKER, snapshot(100, false, 2)));
  }

  @Test
  void unspendableSnapshotSetsTheMarkerAtItsVersion() {
    String exhausted = newAccount();
    String blocked = newAccount();
    publisher.publish(exhausted, snapshot(0, false, 3));
    publisher.publish(blocked, snapshot(1_000, true, 4));
    assertThat(stored(exhausted)).isEqualTo(new CacheLookup(3, snapshot(0, false, 3)));
    assertThat(stored(blocked)).isEqualTo(new CacheLookup(4, snapshot(1_000, true, 4)));
    assertThat(stored(blocked).markerApplies()).isTrue();
  }

  @Test
  void olderSnapshotNeverOverwritesANewerOne() {
    String account = newAccount();
    publisher.publish(account, snapshot(500, false, 5));
    publisher.publish(account, snapshot(0, false, 4));
    CacheLookup found = stored(account);
    assertThat(found.snapshot()).isEqualTo(snapshot(500, false, 5));
    // The older state's marker lands but carries its version, so it does not apply.
    assertThat(found.markerApplies()).isFalse();
  }

  @Test
  void markerFollowsTheSnapshotBackAndForth() {
    String account = newAccount();
    publisher.publish(account, snapshot(0, false, 1));
    assertThat(stored(account).markerApplies()).isTrue();
    publisher.publish(account, snapshot(50, false, 2));
    assertThat(stored(account).hasMarker()).isFalse();
    publisher.publish(account, snapshot(50, true, 3));
    assertThat(stored(account).markerVersion()).isEqualTo(3);
  }

  @Test
  void publishAllWritesEveryAccountBeforeReturning() {
    Map<String, CreditSnapshot> states = new LinkedHashMap<>();
    for (int i = 0; i < 300; i++) {
      states.put(newAccount(), snapshot(i % 3 == 0 ? 0 : i, i % 7 == 0, i + 1));
    }
    publisher.publishAll(states);
    states.forEach(
        (account, state) -> {
          CacheLookup found = stored(account);
          assertThat(found.snapshot()).as(account).isEqualTo(state);
          assertThat(found.markerApplies()).as(account).isEqualTo(!state.canSpend());
        });
    assertThat(publisher.failures()).isZero();
  }

  @Test
  void publishAllKeepsNewerStatesAndWritesTheRest() {
    String newer = newAccount();
    String fresh = newAccount();
    publisher.publish(newer, snapshot(900, false, 10));
    publisher.publishAll(Map.of(newer, snapshot(0, false, 9), fresh, snapshot(7, false, 1)));
    assertThat(stored(newer).snapshot()).isEqualTo(snapshot(900, false, 10));
    assertThat(stored(newer).markerApplies()).isFalse();
    assertThat(stored(fresh).snapshot()).isEqualTo(snapshot(7, false, 1));
  }

  @Test
  void failedWriteIsRetriedUntilItLands() {
    String account = newAccount();
    // The first attempt's snapshot write and marker write, and the second attempt's snapshot write.
    cache.failNextWrites.set(3);
    publisher.publish(account, snapshot(0, false, 6));
    await().atMost(Duration.ofSeconds(5)).until(() -> stored(account).snapshot() != null);
    await().atMost(Duration.ofSeconds(5)).until(() -> stored(account).markerVersion() == 6);
    assertThat(publisher.failures()).isZero();
  }

  @Test
  void everyAttemptFailingInvalidatesTheAccount() throws Exception {
    String account = newAccount();
    backend
        .putSnapshot(account, snapshot(1_000, false, 1), Duration.ofMinutes(10))
        .get(5, TimeUnit.SECONDS);
    // Two writes per attempt fail; the invalidation after them goes through.
    cache.failNextWrites.set(2 * SnapshotPublisher.ATTEMPTS);
    publisher.publish(account, snapshot(0, false, 2));
    await().atMost(Duration.ofSeconds(5)).until(() -> publisher.failures() == 1);
    await().atMost(Duration.ofSeconds(5)).until(() -> stored(account).equals(CacheLookup.EMPTY));
  }

  @Test
  void publishAllRetriesTheAccountsThatFailed() {
    Map<String, CreditSnapshot> states = new LinkedHashMap<>();
    for (int i = 0; i < 20; i++) {
      states.put(newAccount(), snapshot(i + 1, false, 1));
    }
    cache.failNextWrites.set(2);
    publisher.publishAll(states);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> states.keySet().stream().allMatch(account -> stored(account).snapshot() != null));
    assertThat(publisher.failures()).isZero();
  }

  @Test
  void aCacheThatThrowsNeverFailsTheCaller() {
    String account = newAccount();
    cache.writeFault = ScriptedCache.Fault.THROW;
    publisher.publish(account, snapshot(0, false, 1));
    publisher.publishAll(Map.of(account, snapshot(0, false, 2)));
    publisher.markBlocked(account, 2);
    await().atMost(Duration.ofSeconds(5)).until(() -> publisher.failures() == 2);
    assertThat(stored(account)).isEqualTo(CacheLookup.EMPTY);
  }

  @Test
  void markBlockedSetsTheMarkerWithoutWaiting() {
    String account = newAccount();
    publisher.publish(account, snapshot(0, false, 7));
    publisher.markBlocked(account, 8);
    await().atMost(Duration.ofSeconds(5)).until(() -> stored(account).markerVersion() == 8);
  }

  @Test
  void updatesAfterCloseAreDroppedAndCounted() {
    String account = newAccount();
    publisher.close();
    publisher.publish(account, snapshot(5, false, 1));
    publisher.publishAll(Map.of(account, snapshot(5, false, 1)));
    publisher.markBlocked(account, 1);
    assertThat(publisher.failures()).isEqualTo(3);
    assertThat(cache.writes).hasValue(0);
    assertThat(stored(account)).isEqualTo(CacheLookup.EMPTY);
  }
}

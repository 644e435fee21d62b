package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.CacheLookup;
import dev.creditgate.CreditSnapshot;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The near cache's rules for what it keeps, without Redis. */
class NearCacheTest {

  private NearCache near;

  @BeforeEach
  void listening() {
    near = new NearCache(Duration.ofMinutes(1), 1000, Ticker.systemTicker());
    near.startListening();
  }

  private static CacheLookup state(long version) {
    return new CacheLookup(
        CacheLookup.NO_MARKER,
        new CreditSnapshot(100 - version, false, version, Instant.ofEpochSecond(1_795_000_000L)));
  }

  @Test
  void aWrittenStateIsKept() {
    long stamp = near.remoteStamp("a");
    near.putWritten("a", state(3), stamp);
    assertThat(near.get("a")).isEqualTo(state(3));
  }

  @Test
  void anotherInstancesInvalidationDuringTheWriteDropsIt() {
    long stamp = near.remoteStamp("a");
    near.onInvalidationMessage("a");
    near.putWritten("a", state(3), stamp);
    assertThat(near.get("a")).isNull();
  }

  @Test
  void ownWritesDoNotDropAnotherOwnWriteButNeverReplaceANewerState() {
    long first = near.remoteStamp("a");
    long second = near.remoteStamp("a");
    // This instance's own writes evict (bumping the load epochs), not the remote ones.
    near.invalidate("a");
    near.putWritten("a", state(5), second);
    near.invalidate("a");
    near.putWritten("a", state(5), second);
    near.putWritten("a", state(4), first);
    assertThat(near.get("a")).isEqualTo(state(5));
  }

  @Test
  void aLoadThatStartedBeforeAnOwnWriteIsNotKept() {
    long load = near.stamp("a");
    near.invalidate("a");
    near.putIfUnchanged("a", state(1), load);
    assertThat(near.get("a")).isNull();
  }

  @Test
  void nothingIsKeptWhileInvalidationsMayBeLost() {
    long stamp = near.remoteStamp("a");
    near.stopListening();
    near.putWritten("a", state(3), stamp);
    near.startListening();
    near.putWritten("a", state(3), stamp);
    assertThat(near.get("a")).isNull();
  }
}

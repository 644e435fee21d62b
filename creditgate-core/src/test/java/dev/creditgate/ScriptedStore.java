package dev.creditgate;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** A credit store held in memory whose answers can fail or come late. Counts fetches. */
final class ScriptedStore implements CreditSnapshotProvider {

  final Map<String, CreditSnapshot> accounts = new ConcurrentHashMap<>();
  final AtomicInteger fetches = new AtomicInteger();
  volatile RuntimeException failure;
  volatile Duration delay = Duration.ZERO;

  /** When set, every fetch waits for it before answering. */
  volatile CountDownLatch gate;

  @Override
  public Optional<CreditSnapshot> fetchSnapshot(String accountId) {
    fetches.incrementAndGet();
    try {
      CountDownLatch g = gate;
      if (g != null) {
        g.await();
      }
      if (!delay.isZero()) {
        Thread.sleep(delay.toMillis());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    if (failure != null) {
      throw failure;
    }
    return Optional.ofNullable(accounts.get(accountId));
  }
}

package dev.creditgate;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A cache whose calls can be made to fail, throw, or answer late, to inject the faults of a remote
 * cache into guard and publisher tests. Wraps an in-memory cache or any backend. Counts every call.
 */
final class ScriptedCache implements CreditCache {

  enum Fault {
    NONE,
    FAIL,
    THROW,
    SLOW
  }

  final CreditCache delegate;
  volatile Fault lookupFault = Fault.NONE;
  volatile Fault writeFault = Fault.NONE;
  volatile Duration slowBy = Duration.ofSeconds(2);
  final AtomicInteger lookups = new AtomicInteger();
  final AtomicInteger writes = new AtomicInteger();

  /** Writes (of any kind) still to fail before {@link #writeFault} applies again. */
  final AtomicInteger failNextWrites = new AtomicInteger();

  ScriptedCache(FakeTicker ticker) {
    this(InMemoryCreditCache.builder().ticker(ticker).build());
  }

  ScriptedCache(CreditCache delegate) {
    this.delegate = delegate;
  }

  @Override
  public CompletableFuture<CacheLookup> lookup(String accountId) {
    lookups.incrementAndGet();
    return apply(lookupFault, () -> delegate.lookup(accountId));
  }

  @Override
  public CompletableFuture<Boolean> putSnapshot(
      String accountId, CreditSnapshot snapshot, Duration ttl) {
    writes.incrementAndGet();
    return apply(writeFault(), () -> delegate.putSnapshot(accountId, snapshot, ttl));
  }

  @Override
  public CompletableFuture<Void> setBlocked(String accountId, long version, Duration ttl) {
    writes.incrementAndGet();
    return apply(writeFault(), () -> delegate.setBlocked(accountId, version, ttl));
  }

  @Override
  public CompletableFuture<Void> clearBlocked(String accountId) {
    writes.incrementAndGet();
    return apply(writeFault(), () -> delegate.clearBlocked(accountId));
  }

  @Override
  public CompletableFuture<Void> invalidate(String accountId) {
    writes.incrementAndGet();
    return apply(writeFault(), () -> delegate.invalidate(accountId));
  }

  private Fault writeFault() {
    return failNextWrites.getAndUpdate(left -> Math.max(0, left - 1)) > 0 ? Fault.FAIL : writeFault;
  }

  private <T> CompletableFuture<T> apply(Fault fault, Supplier<CompletableFuture<T>> call) {
    switch (fault) {
      case FAIL:
        return CompletableFuture.failedFuture(new IllegalStateException("injected cache failure"));
      case THROW:
        throw new IllegalStateException("injected cache throw");
      case SLOW:
        Executor later = CompletableFuture.delayedExecutor(slowBy.toNanos(), TimeUnit.NANOSECONDS);
        return CompletableFuture.supplyAsync(() -> call.get().join(), later);
      default:
        return call.get();
    }
  }
}

package dev.creditgate.redis;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * Fails futures that are still pending when the time budget runs out, from one thread of its own.
 *
 * <p>Cheaper per call than {@link CompletableFuture#orTimeout}, which schedules (and on completion
 * cancels) a task on the JDK's shared delay scheduler and may wake its thread every time. Every
 * call here has the same budget, so deadlines arrive in order: registering is one lock-free
 * enqueue, and the thread only wakes when the oldest pending call is due.
 */
final class Deadlines implements AutoCloseable {

  private record Entry(CompletableFuture<?> future, long deadline) {}

  private final long budgetNanos;
  private final ConcurrentLinkedQueue<Entry> pending = new ConcurrentLinkedQueue<>();
  private final Thread thread;
  private volatile boolean closed;

  Deadlines(long budgetNanos, String name) {
    this.budgetNanos = budgetNanos;
    this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this::run);
    thread.start();
  }

  /** Fails {@code future} with a {@link TimeoutException} if it is not done one budget from now. */
  void bound(CompletableFuture<?> future) {
    pending.add(new Entry(future, System.nanoTime() + budgetNanos));
  }

  private void run() {
    while (!closed) {
      Entry head = pending.peek();
      if (head == null) {
        // Anything registered from now on is due no sooner than one budget from now.
        LockSupport.parkNanos(this, budgetNanos);
        continue;
      }
      if (head.future().isDone()) {
        pending.poll();
        continue;
      }
      long wait = head.deadline() - System.nanoTime();
      if (wait <= 0) {
        pending.poll();
        head.future().completeExceptionally(new TimeoutException());
      } else {
        LockSupport.parkNanos(this, wait);
      }
    }
  }

  /** Stops the thread; calls still pending fail at once. */
  @Override
  public void close() {
    closed = true;
    LockSupport.unpark(thread);
    try {
      thread.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Entry entry; (entry = pending.poll()) != null; ) {
      entry.future().completeExceptionally(new TimeoutException());
    }
  }
}

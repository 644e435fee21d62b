package dev.creditgate.redis;

import io.lettuce.core.KeyValue;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Coalesces concurrent lookups of different accounts into one {@code MGET} of all their keys.
 *
 * <p>A lookup is sent at once when fewer than {@code maxInFlight} batches are waiting for Redis: a
 * lone caller's lookup is a batch of one, with no added wait. Otherwise it queues, and the next
 * batch leaves as soon as a reply frees a slot, carrying whatever queued meanwhile (up to {@code
 * maxAccounts}). Nothing ever waits on a timer for more work: batches grow only because callers
 * arrive while Redis is busy, which is exactly when one command per account would queue behind the
 * others anyway.
 *
 * <p>Standalone only: on a cluster the accounts' keys live in different slots and nodes.
 *
 * @param <T> what a lookup yields for one account, decoded from its keys' values
 */
final class LookupBatcher<T> {

  private record Pending<T>(String account, CompletableFuture<T> result) {}

  private final Function<String[], CompletionStage<List<KeyValue<String, String>>>> mget;
  private final Function<String, String[]> keysOf;
  private final BiFunction<String, List<KeyValue<String, String>>, T> decode;
  private final int keysPerAccount;
  private final int maxAccounts;
  private final int maxInFlight;
  private final ConcurrentLinkedQueue<Pending<T>> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();

  /**
   * @param mget sends one MGET of the given keys; its reply lists the values in key order
   * @param keysOf the keys of one account, always {@code keysPerAccount} of them
   * @param decode one account's result from its keys' values, in {@code keysOf} order
   */
  LookupBatcher(
      Function<String[], CompletionStage<List<KeyValue<String, String>>>> mget,
      Function<String, String[]> keysOf,
      int keysPerAccount,
      BiFunction<String, List<KeyValue<String, String>>, T> decode,
      int maxAccounts,
      int maxInFlight) {
    this.mget = mget;
    this.keysOf = keysOf;
    this.keysPerAccount = keysPerAccount;
    this.decode = decode;
    this.maxAccounts = maxAccounts;
    this.maxInFlight = maxInFlight;
  }

  /** The account's result, read in the next batch that leaves. */
  CompletableFuture<T> lookup(String account) {
    CompletableFuture<T> result = new CompletableFuture<>();
    queue.add(new Pending<>(account, result));
    drain();
    return result;
  }

  /**
   * Sends queued lookups while a batch slot is free. A lookup queued while every slot is taken is
   * sent by the reply that frees one: the enqueuer adds before it reads {@code inFlight}, the reply
   * decrements before it reads the queue, so at least one of the two sees the other.
   */
  private void drain() {
    while (!queue.isEmpty()) {
      int current = inFlight.get();
      if (current >= maxInFlight) {
        return;
      }
      if (!inFlight.compareAndSet(current, current + 1)) {
        continue;
      }
      List<Pending<T>> batch = new ArrayList<>(Math.min(maxAccounts, 16));
      for (Pending<T> next; batch.size() < maxAccounts && (next = queue.poll()) != null; ) {
        batch.add(next);
      }
      if (batch.isEmpty()) {
        // Another drainer took them; give the slot back and look again.
        inFlight.decrementAndGet();
        continue;
      }
      send(batch);
    }
  }

  private void send(List<Pending<T>> batch) {
    String[] keys = new String[batch.size() * keysPerAccount];
    for (int i = 0; i < batch.size(); i++) {
      System.arraycopy(
          keysOf.apply(batch.get(i).account()), 0, keys, i * keysPerAccount, keysPerAccount);
    }
    CompletionStage<List<KeyValue<String, String>>> reply;
    try {
      reply = mget.apply(keys);
    } catch (RuntimeException e) {
      reply = CompletableFuture.failedFuture(e);
    }
    reply.whenComplete(
        (values, error) -> {
          // Free the slot and send what queued meanwhile before waking this batch's callers, whose
          // continuations run on this thread.
          inFlight.decrementAndGet();
          drain();
          Throwable failure =
              error != null || values.size() == keys.length
                  ? error
                  : new IllegalStateException(
                      "MGET of " + keys.length + " keys answered " + values.size() + " values");
          for (int i = 0; i < batch.size(); i++) {
            Pending<T> pending = batch.get(i);
            if (failure != null) {
              pending.result().completeExceptionally(failure);
              continue;
            }
            try {
              pending
                  .result()
                  .complete(
                      decode.apply(
                          pending.account(),
                          values.subList(i * keysPerAccount, (i + 1) * keysPerAccount)));
            } catch (RuntimeException e) {
              pending.result().completeExceptionally(e);
            }
          }
        });
  }
}

package dev.creditgate.ledger;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The credit held by this process's calls in flight, per account: a call's worst-case cost from its
 * admission until it settles or ends.
 *
 * <p>Placing a hold measures the account's room and takes it in one atomic step per account (inside
 * the account's map entry), so concurrent calls never hold together more than the room they were
 * measured against. The room is computed inside that step ({@code room}), after every earlier
 * settle's charge was handed to the ledger: a settle queues its charge before it releases its hold,
 * so a charge is always counted as a hold, a pending debit, or both (never neither).
 */
final class HoldBook {

  /** One call's hold. */
  record Hold(String accountId, String eventId, long credits, long deadlineNanos) {}

  /** An account's open holds; changed only inside its map entry's compute. */
  private static final class AccountHolds {
    long held;
    final Map<String, Hold> open = new HashMap<>(4);
  }

  private final ConcurrentHashMap<String, AccountHolds> accounts = new ConcurrentHashMap<>();
  private final AtomicLong totalHeld = new AtomicLong();
  private final AtomicLong openHolds = new AtomicLong();

  /**
   * Places {@code hold} when the account's open holds plus it fit in the room {@code room} reports
   * (called inside the atomic step); returns the room left after it, or -1 when it does not fit
   * (nothing placed).
   */
  long place(Hold hold, LongSupplier room) {
    long[] left = {-1};
    accounts.compute(
        hold.accountId(),
        (id, existing) -> {
          AccountHolds holds = existing == null ? new AccountHolds() : existing;
          long free = room.getAsLong() - holds.held;
          if (free >= hold.credits() && !holds.open.containsKey(hold.eventId())) {
            holds.held += hold.credits();
            holds.open.put(hold.eventId(), hold);
            left[0] = free - hold.credits();
            totalHeld.addAndGet(hold.credits());
            openHolds.incrementAndGet();
          }
          return holds.open.isEmpty() ? null : holds;
        });
    return left[0];
  }

  /**
   * The room left for the account in {@code room} after its open holds, measured in the same atomic
   * step as a placement would be.
   */
  long free(String accountId, LongSupplier room) {
    long[] free = {0};
    accounts.compute(
        accountId,
        (id, holds) -> {
          free[0] = room.getAsLong() - (holds == null ? 0 : holds.held);
          return holds;
        });
    return free[0];
  }

  /** Whether the call's hold is open. */
  boolean isOpen(String accountId, String eventId) {
    boolean[] open = {false};
    accounts.computeIfPresent(
        accountId,
        (id, holds) -> {
          open[0] = holds.open.containsKey(eventId);
          return holds;
        });
    return open[0];
  }

  /** Releases the call's hold; true when it was open (a second release changes nothing). */
  boolean release(String accountId, String eventId) {
    boolean[] released = {false};
    accounts.computeIfPresent(
        accountId,
        (id, holds) -> {
          Hold hold = holds.open.remove(eventId);
          if (hold != null) {
            holds.held -= hold.credits();
            totalHeld.addAndGet(-hold.credits());
            openHolds.decrementAndGet();
            released[0] = true;
          }
          return holds.open.isEmpty() ? null : holds;
        });
    return released[0];
  }

  /** Releases and returns the holds whose deadline passed {@code nowNanos}. */
  List<Hold> expire(long nowNanos) {
    List<Hold> expired = new ArrayList<>();
    for (String accountId : accounts.keySet()) {
      accounts.computeIfPresent(
          accountId,
          (id, holds) -> {
            holds
                .open
                .values()
                .removeIf(
                    hold -> {
                      if (nowNanos - hold.deadlineNanos() < 0) {
                        return false;
                      }
                      holds.held -= hold.credits();
                      totalHeld.addAndGet(-hold.credits());
                      openHolds.decrementAndGet();
                      expired.add(hold);
                      return true;
                    });
            return holds.open.isEmpty() ? null : holds;
          });
    }
    return expired;
  }

  /** The account's open holds, for operators. */
  List<Hold> holds(String accountId) {
    List<Hold> found = new ArrayList<>();
    accounts.computeIfPresent(
        accountId,
        (id, holds) -> {
          found.addAll(holds.open.values());
          return holds;
        });
    return found;
  }

  /** The credits held by all open holds. */
  long totalHeld() {
    return totalHeld.get();
  }

  /** How many holds are open. */
  long openHolds() {
    return openHolds.get();
  }
}

package dev.creditgate.internal;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A few counters by wall-clock minute over the last {@value #MINUTES} minutes, in a fixed ring of
 * {@value #MINUTES} buckets: memory stays the same however long the process runs.
 *
 * <p>{@link #add} is meant for every call's hot path: it adds to the current minute's {@link
 * LongAdder}, with no clock read, no lock and no allocation. The current minute moves on in {@link
 * #roll}, which the owner calls every {@link #ROLL_INTERVAL} (a clock read costs several times the
 * add) and {@link #lastHour} calls first: it swaps the new minute's fresh bucket into its slot by
 * compare-and-set, so an add never lands in a bucket being cleared and concurrent adds sum exactly
 * (an add that read the old minute just before the roll counts in the old minute, which stays in
 * the ring for the hour). A count made between a minute's start and the next roll falls in the
 * minute before. A bucket left by minutes nobody counted in is not cleared: {@link #lastHour} reads
 * it as zeros because its minute is not the one asked for. The current minute never goes back: a
 * clock set back keeps counting in it until the clock passes it again.
 */
public final class MinuteCounters {

  /** How many minutes the ring keeps, the current one included. */
  public static final int MINUTES = 60;

  /** A minute, in the clock's milliseconds. */
  public static final long MINUTE_MILLIS = 60_000;

  /** How often the owner calls {@link #roll}: the most a minute's first counts may land early. */
  public static final Duration ROLL_INTERVAL = Duration.ofMillis(100);

  /** One minute's counters. Its minute never changes: a later minute gets a new bucket. */
  private static final class Bucket {
    final long minute;
    final LongAdder[] counts;

    Bucket(long minute, int width) {
      this.minute = minute;
      this.counts = new LongAdder[width];
      for (int i = 0; i < width; i++) {
        counts[i] = new LongAdder();
      }
    }
  }

  /** One minute's sums, for a reader. */
  public record Minute(Instant start, long[] counts) {

    /** The sum of counter {@code counter} in this minute. */
    public long count(int counter) {
      return counts[counter];
    }
  }

  private final InstantSource clock;
  private final int width;
  private final AtomicReferenceArray<Bucket> ring = new AtomicReferenceArray<>(MINUTES);
  private final AtomicReference<Bucket> current;

  /**
   * @param width how many counters each minute has, numbered from 0
   * @param clock the wall clock whose minutes the counts fall in
   */
  public MinuteCounters(int width, InstantSource clock) {
    if (width <= 0) {
      throw new IllegalArgumentException("width must be positive, but was " + width);
    }
    this.width = width;
    this.clock = Objects.requireNonNull(clock, "clock");
    Bucket first = new Bucket(clockMinute(), width);
    ring.set(slot(first.minute), first);
    this.current = new AtomicReference<>(first);
  }

  /** How many counters each minute has. */
  public int width() {
    return width;
  }

  /** The clock the minutes are read from. */
  public InstantSource clock() {
    return clock;
  }

  /**
   * Adds {@code n} to counter {@code counter} of the current minute.
   *
   * @throws ArrayIndexOutOfBoundsException when there is no such counter
   */
  public void add(int counter, long n) {
    current.get().counts[counter].add(n);
  }

  /**
   * Makes the clock's minute the current one, if the clock has passed the current one. Safe to call
   * from any thread, as often as wanted.
   */
  public void roll() {
    long minute = clockMinute();
    Bucket seen = current.get();
    while (seen.minute < minute) {
      if (current.compareAndSet(seen, open(minute))) {
        return;
      }
      seen = current.get();
    }
  }

  /**
   * The bucket of {@code minute} in its slot, swapped in if the slot holds an older minute (or one
   * later still, should another roll have read a clock an hour ahead).
   */
  private Bucket open(long minute) {
    int slot = slot(minute);
    Bucket seen = ring.get(slot);
    Bucket fresh = null;
    while (seen == null || seen.minute < minute) {
      if (fresh == null) {
        fresh = new Bucket(minute, width);
      }
      if (ring.compareAndSet(slot, seen, fresh)) {
        return fresh;
      }
      seen = ring.get(slot);
    }
    return seen;
  }

  /**
   * The last {@value #MINUTES} minutes, oldest first, the current (partial) minute last, after a
   * {@link #roll}; a minute nobody counted in is all zeros. Each sum is read on its own while adds
   * go on, so the current minute's counters are each exact at some instant of the read, not all at
   * the same.
   */
  public List<Minute> lastHour() {
    roll();
    long now = current.get().minute;
    List<Minute> minutes = new ArrayList<>(MINUTES);
    for (long minute = now - MINUTES + 1; minute <= now; minute++) {
      Bucket bucket = ring.get(slot(minute));
      long[] sums = new long[width];
      if (bucket != null && bucket.minute == minute) {
        for (int i = 0; i < width; i++) {
          sums[i] = bucket.counts[i].sum();
        }
      }
      minutes.add(new Minute(Instant.ofEpochMilli(minute * MINUTE_MILLIS), sums));
    }
    return minutes;
  }

  private long clockMinute() {
    return Math.floorDiv(clock.millis(), MINUTE_MILLIS);
  }

  private static int slot(long minute) {
    return (int) Math.floorMod(minute, (long) MINUTES);
  }
}

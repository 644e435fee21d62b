package dev.creditgate.internal;

import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A few counters by wall-clock minute over the last {@value #MINUTES} minutes, in a fixed ring of
 * {@value #MINUTES} buckets: memory stays the same however long the process runs.
 *
 * <p>{@link #add} is meant for every call's hot path: a clock read, a volatile read of the minute's
 * bucket and a {@link LongAdder} add; no lock and no allocation, except once per minute for the
 * thread that opens the minute (it swaps a fresh bucket into the ring by compare-and-set, so an add
 * never lands in a bucket being cleared and concurrent adds sum exactly). A bucket left by minutes
 * nobody counted in is not cleared on the write path: {@link #lastHour} reads it as zeros because
 * its minute is not the one asked for.
 */
public final class MinuteCounters {

  /** How many minutes the ring keeps, the current one included. */
  public static final int MINUTES = 60;

  /** A minute, in the clock's milliseconds. */
  public static final long MINUTE_MILLIS = 60_000;

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
   * Adds {@code n} to counter {@code counter} of the clock's current minute.
   *
   * @throws ArrayIndexOutOfBoundsException when there is no such counter
   */
  public void add(int counter, long n) {
    long minute = Math.floorDiv(clock.millis(), MINUTE_MILLIS);
    int slot = (int) Math.floorMod(minute, (long) MINUTES);
    Bucket bucket = ring.get(slot);
    if (bucket == null || bucket.minute != minute) {
      bucket = open(slot, minute, bucket);
      if (bucket == null) {
        return;
      }
    }
    bucket.counts[counter].add(n);
  }

  /**
   * The bucket of {@code minute} in its slot, swapped in if the slot holds an older minute; null
   * when the slot already holds a later one (a clock set back an hour or more, or a thread stalled
   * that long between its clock read and its add): such an add is dropped rather than counted in
   * another minute.
   */
  private Bucket open(int slot, long minute, Bucket seen) {
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
    return seen.minute == minute ? seen : null;
  }

  /**
   * The last {@value #MINUTES} minutes by the clock, oldest first, its current (partial) minute
   * last; a minute nobody counted in is all zeros. Each sum is read on its own while adds go on, so
   * the current minute's counters are each exact at some instant of the read, not all at the same.
   */
  public List<Minute> lastHour() {
    long now = Math.floorDiv(clock.millis(), MINUTE_MILLIS);
    List<Minute> minutes = new ArrayList<>(MINUTES);
    for (long minute = now - MINUTES + 1; minute <= now; minute++) {
      Bucket bucket = ring.get((int) Math.floorMod(minute, (long) MINUTES));
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
}

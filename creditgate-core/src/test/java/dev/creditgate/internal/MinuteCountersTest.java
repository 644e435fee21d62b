package dev.creditgate.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class MinuteCountersTest {

  /** 2025-01-31T12:00:00Z, a minute's start. */
  private static final long START = Instant.parse("2025-01-31T12:00:00Z").toEpochMilli();

  private final AtomicLong millis = new AtomicLong(START);
  private final InstantSource clock = () -> Instant.ofEpochMilli(millis.get());

  private void advance(Duration d) {
    millis.addAndGet(d.toMillis());
  }

  /** Moves the clock and rolls the ring, as the owner's timer does within a tenth of a second. */
  private void tick(MinuteCounters ring, Duration d) {
    advance(d);
    ring.roll();
  }

  /** Counter {@code counter} of each of the last hour's minutes, oldest first. */
  private static List<Long> column(MinuteCounters ring, int counter) {
    return ring.lastHour().stream().map(m -> m.count(counter)).toList();
  }

  private static long last(MinuteCounters ring, int counter) {
    return column(ring, counter).get(MinuteCounters.MINUTES - 1);
  }

  @Test
  void theLastHourIsSixtyMinutesOldestFirstEndingWithTheCurrentPartialOne() {
    advance(Duration.ofSeconds(90));
    List<MinuteCounters.Minute> hour = new MinuteCounters(1, clock).lastHour();
    assertThat(hour).hasSize(60);
    assertThat(hour.get(59).start()).isEqualTo(Instant.parse("2025-01-31T12:01:00Z"));
    assertThat(hour.get(0).start()).isEqualTo(Instant.parse("2025-01-31T11:02:00Z"));
    for (int i = 1; i < hour.size(); i++) {
      assertThat(Duration.between(hour.get(i - 1).start(), hour.get(i).start()))
          .isEqualTo(Duration.ofMinutes(1));
    }
    assertThat(hour).allSatisfy(m -> assertThat(m.counts()).containsExactly(0L));
  }

  @Test
  void countsMoveToThePreviousMinuteWhenTheMinuteRollsOver() {
    MinuteCounters ring = new MinuteCounters(2, clock);
    advance(Duration.ofSeconds(59));
    ring.add(0, 3);
    ring.add(1, 40);
    ring.add(0, 1);
    assertThat(last(ring, 0)).isEqualTo(4);
    assertThat(last(ring, 1)).isEqualTo(40);

    tick(ring, Duration.ofSeconds(1));
    assertThat(last(ring, 0)).as("the new minute, untouched").isZero();
    ring.add(0, 7);
    assertThat(column(ring, 0).subList(58, 60)).containsExactly(4L, 7L);
    assertThat(column(ring, 1).subList(58, 60)).containsExactly(40L, 0L);
  }

  @Test
  void anAddBeforeTheRollCountsInTheMinuteBeforeAndReadingRollsFirst() {
    MinuteCounters ring = new MinuteCounters(1, clock);
    advance(Duration.ofSeconds(60));
    ring.add(0, 2);
    List<Long> counts = column(ring, 0);
    assertThat(counts.subList(58, 60)).containsExactly(2L, 0L);
    ring.add(0, 5);
    assertThat(column(ring, 0).subList(58, 60)).containsExactly(2L, 5L);
  }

  @Test
  void idleMinutesBetweenCountsAreZeros() {
    MinuteCounters ring = new MinuteCounters(1, clock);
    ring.add(0, 5);
    tick(ring, Duration.ofMinutes(4));
    ring.add(0, 2);
    assertThat(column(ring, 0).subList(55, 60)).containsExactly(5L, 0L, 0L, 0L, 2L);
    assertThat(column(ring, 0).subList(0, 55)).containsOnly(0L);
  }

  @Test
  void aSlotReusedAnHourLaterStartsFromZero() {
    MinuteCounters ring = new MinuteCounters(1, clock);
    ring.add(0, 5);
    tick(ring, Duration.ofMinutes(60));
    assertThat(column(ring, 0)).as("the old minute is out of the window").containsOnly(0L);
    ring.add(0, 1);
    assertThat(last(ring, 0)).as("not 5 + 1 from the same slot an hour ago").isEqualTo(1);
  }

  @Test
  void afterMoreThanAnHourTheRingHoldsTheLastSixtyMinutesInOrder() {
    MinuteCounters ring = new MinuteCounters(1, clock);
    for (int minute = 0; minute < 150; minute++) {
      ring.add(0, minute);
      tick(ring, Duration.ofMinutes(1));
    }
    // Now at minute 150, nothing counted in it yet; minutes 91..149 before it.
    List<Long> expected = new ArrayList<>();
    for (long minute = 91; minute < 150; minute++) {
      expected.add(minute);
    }
    expected.add(0L);
    assertThat(column(ring, 0)).containsExactlyElementsOf(expected);
  }

  @Test
  void anIdleGapLongerThanTheRingLeavesOnlyZeros() {
    MinuteCounters ring = new MinuteCounters(1, clock);
    for (int i = 0; i < 60; i++) {
      ring.add(0, 1);
      tick(ring, Duration.ofMinutes(1));
    }
    tick(ring, Duration.ofHours(3));
    assertThat(column(ring, 0)).containsOnly(0L);
  }

  @Test
  void aClockSetBackKeepsCountingInTheCurrentMinuteUntilItPassesIt() {
    MinuteCounters ring = new MinuteCounters(1, clock);
    ring.add(0, 1);
    tick(ring, Duration.ofMinutes(2));
    ring.add(0, 10);
    tick(ring, Duration.ofMinutes(-2));
    ring.add(0, 100);
    assertThat(column(ring, 0).subList(57, 60)).containsExactly(1L, 0L, 110L);
    tick(ring, Duration.ofMinutes(-90));
    ring.add(0, 1000);
    assertThat(column(ring, 0).subList(57, 60)).containsExactly(1L, 0L, 1110L);

    tick(ring, Duration.ofMinutes(93));
    ring.add(0, 7);
    assertThat(column(ring, 0).subList(56, 60)).containsExactly(1L, 0L, 1110L, 7L);
  }

  @Test
  void concurrentAddsInOneMinuteSumExactly() throws Exception {
    MinuteCounters ring = new MinuteCounters(2, clock);
    int threads = 8;
    int adds = 50_000;
    onThreads(
        threads,
        () -> {
          for (int i = 0; i < adds; i++) {
            ring.add(0, 1);
            ring.add(1, 3);
          }
        },
        () -> {});
    assertThat(last(ring, 0)).isEqualTo((long) threads * adds);
    assertThat(last(ring, 1)).isEqualTo(3L * threads * adds);
  }

  /**
   * Adds racing the rolls across minute boundaries: every add lands in some minute of the window
   * and none is lost when a minute opens.
   */
  @Test
  void concurrentAddsAcrossMinuteBoundariesAreAllCounted() throws Exception {
    MinuteCounters ring = new MinuteCounters(1, clock);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong added = new AtomicLong();
    onThreads(
        6,
        () -> {
          long mine = 0;
          while (!stop.get()) {
            ring.add(0, 1);
            mine++;
          }
          added.addAndGet(mine);
        },
        () -> {
          for (int minute = 0; minute < 50; minute++) {
            Thread.sleep(2);
            tick(ring, Duration.ofMinutes(1));
          }
          stop.set(true);
        });
    List<Long> counts = column(ring, 0);
    assertThat(counts.stream().mapToLong(Long::longValue).sum()).isEqualTo(added.get());
    assertThat(counts.stream().filter(n -> n > 0).count())
        .as("minutes counted in")
        .isGreaterThan(10);
  }

  /** Something this thread does while the others run. */
  private interface Meanwhile {
    void run() throws Exception;
  }

  /**
   * Starts {@code threads} threads that run {@code body} once all are started, runs {@code
   * meanwhile} on this thread, then waits for them.
   */
  private static void onThreads(int threads, Runnable body, Meanwhile meanwhile) throws Exception {
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> running = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      running.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      go.await();
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                      return;
                    }
                    body.run();
                  }));
    }
    go.countDown();
    meanwhile.run();
    for (Thread t : running) {
      t.join();
    }
  }

  /** Random adds and clock moves forward, against a map of minute to sum. */
  @Property(tries = 200)
  void agreesWithAMapOfMinutes(
      @ForAll @Size(max = 300) List<@IntRange(min = 0, max = 200_000) Integer> steps) {
    millis.set(START);
    MinuteCounters ring = new MinuteCounters(1, clock);
    Map<Long, Long> model = new HashMap<>();
    for (int step : steps) {
      if (step % 3 == 0) {
        tick(ring, Duration.ofSeconds(step % 5_000));
      } else {
        ring.add(0, step);
        model.merge(Math.floorDiv(millis.get(), 60_000L), (long) step, Long::sum);
      }
    }
    long now = Math.floorDiv(millis.get(), 60_000L);
    List<Long> expected = new ArrayList<>();
    for (long minute = now - 59; minute <= now; minute++) {
      expected.add(model.getOrDefault(minute, 0L));
    }
    assertThat(column(ring, 0)).containsExactlyElementsOf(expected);
  }

  @Test
  void aRingNeedsAtLeastOneCounter() {
    assertThatThrownBy(() -> new MinuteCounters(0, clock))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("width must be positive, but was 0");
    MinuteCounters ring = new MinuteCounters(1, clock);
    assertThatThrownBy(() -> ring.add(1, 1)).isInstanceOf(ArrayIndexOutOfBoundsException.class);
  }
}

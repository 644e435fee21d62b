package dev.creditgate.bench.load;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Latency over time, per 100 ms of intended send time: calls, the slowest, and how many took over
 * 40 ms (twice the simulated upstream's latency), to tell a steady tail from stalls.
 */
final class Timeline {
  static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  static final long SLOW_MICROS = 40_000;
  private final AtomicLongArray count;
  private final AtomicLongArray slow;
  private final AtomicLongArray max;

  Timeline(long measureNanos) {
    int slices = (int) (measureNanos / SLICE_NANOS) + 1;
    count = new AtomicLongArray(slices);
    slow = new AtomicLongArray(slices);
    max = new AtomicLongArray(slices);
  }

  void record(long sinceStartNanos, long micros) {
    int i = (int) Math.min(count.length() - 1, sinceStartNanos / SLICE_NANOS);
    count.incrementAndGet(i);
    if (micros > SLOW_MICROS) {
      slow.incrementAndGet(i);
    }
    max.accumulateAndGet(i, micros, Math::max);
  }

  void write(Path file) {
    StringBuilder out = new StringBuilder("t_ms\tcalls\tover_40ms\tmax_ms\n");
    for (int i = 0; i < count.length(); i++) {
      out.append(i * 100)
          .append('\t')
          .append(count.get(i))
          .append('\t')
          .append(slow.get(i))
          .append('\t')
          .append(max.get(i) / 1000)
          .append('\n');
    }
    try {
      Files.writeString(file, out);
    } catch (IOException e) {
      System.err.println("cannot write the timeline " + file + ": " + e);
    }
  }
}

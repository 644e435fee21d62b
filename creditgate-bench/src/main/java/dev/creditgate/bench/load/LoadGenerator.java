package dev.creditgate.bench.load;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Recorder;

/**
 * Open-loop HTTP load generator for chat completions. Request {@code i} is due at {@code start + i
 * / rate}, whatever happened to earlier ones, and its latency is measured from that intended time,
 * not from when a connection became free to send it: a server that stalls sees the stall in every
 * request queued behind it (no coordinated omission, as in wrk2).
 *
 * <p>Each of {@code --connections} workers (virtual threads, one keep-alive connection each) claims
 * the next due request, waits for its time, sends it and reads the whole response. The mix is
 * deterministic per request index: a fixed fraction streams ({@code "stream": true,
 * "stream_options": {"include_usage": true}}), keys rotate through the keys file, and a key marked
 * {@code blocked} must be answered 402, any other 200. A response with another status, a stream
 * without its final {@code [DONE]}, an I/O error or a request that could not even be sent within
 * the timeout is an error.
 *
 * <p>{@code --search} steps the rate up (times {@code --search-factor}) until p99 exceeds {@code
 * --p99-limit-ms}, an error appears or the achieved rate falls below 95% of the target (in a step
 * and in its one retry), then bisects twice between the last pass and the first failure, and prints
 * the highest rate that passed.
 *
 * <p>The options and the command line are {@link LoadOptions} and {@link LoadCommandLine}, the
 * requests' bytes {@link RequestTemplates}, the search {@link RateSearch}, and what is printed
 * {@link LoadReport}.
 */
public final class LoadGenerator {

  private static final long HIGHEST_MICROS = TimeUnit.MINUTES.toMicros(10);

  private LoadGenerator() {}

  /** Runs the warm-up and then the measured period, and returns what the measured period saw. */
  public static LoadResult run(LoadOptions o) throws InterruptedException {
    InetSocketAddress address =
        new InetSocketAddress(o.url().getHost(), RequestTemplates.port(o.url()));
    InetSocketAddress streamAddress =
        new InetSocketAddress(o.streamUrl().getHost(), RequestTemplates.port(o.streamUrl()));
    boolean separateStreams = !streamAddress.equals(address);
    List<byte[][]> requests = RequestTemplates.prepare(o);
    long intervalScale = TimeUnit.SECONDS.toNanos(1);
    long warmupNanos = o.warmup().toNanos();
    long measureNanos = o.duration().toNanos();
    long timeoutNanos = o.timeout().toNanos();
    // Workers start a little before the first due time so none of them is late to begin with.
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    long measureStart = start + warmupNanos;
    long end = measureStart + measureNanos;

    AtomicLong ticket = new AtomicLong();
    AtomicLong lastDone = new AtomicLong(end);
    Recorder all = recorder();
    Recorder plain = recorder();
    Recorder stream = recorder();
    Recorder streamFirstByte = recorder();
    LongAdder sent = new LongAdder();
    LongAdder completed = new LongAdder();
    LongAdder ok = new LongAdder();
    LongAdder blocked = new LongAdder();
    LongAdder reconnects = new LongAdder();
    Map<String, LongAdder> errorKinds = new ConcurrentHashMap<>();
    Map<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
    Timeline timeline = o.timeline() == null ? null : new Timeline(measureNanos);

    Runnable worker =
        () -> {
          int timeoutMillis = (int) o.timeout().toMillis();
          try (RawHttpConnection plainConnection = new RawHttpConnection(address, timeoutMillis);
              RawHttpConnection streamConnection =
                  separateStreams
                      ? new RawHttpConnection(streamAddress, timeoutMillis)
                      : plainConnection) {
            while (true) {
              long i = ticket.getAndIncrement();
              long intended = start + i * intervalScale / o.rate();
              if (intended >= end) {
                break;
              }
              sleepUntil(intended);
              boolean measured = intended >= measureStart;
              if (System.nanoTime() - intended > timeoutNanos) {
                // So far behind that the request would be late before it is sent: a failure, and
                // skipping it lets the workers catch up instead of running long past the end.
                if (measured) {
                  errorKinds
                      .computeIfAbsent("not sent within timeout", k -> new LongAdder())
                      .increment();
                }
                continue;
              }
              int variant = (int) (i % requests.size());
              boolean isStream = isStream(i, o.streamFraction());
              int keyIndex = o.keys().isEmpty() ? 0 : keyIndex(i, o.keys().size());
              LoadOptions.Key key = o.keys().isEmpty() ? null : o.keys().get(keyIndex);
              byte[] request = requests.get(variant)[keyIndex * 2 + (isStream ? 1 : 0)];
              if (measured) {
                sent.increment();
              }
              RawHttpConnection.Response response;
              try {
                response = (isStream ? streamConnection : plainConnection).exchange(request);
              } catch (IOException e) {
                if (measured) {
                  errorKinds
                      .computeIfAbsent("io: " + e.getClass().getSimpleName(), k -> new LongAdder())
                      .increment();
                }
                continue;
              }
              long done = System.nanoTime();
              if (!measured) {
                continue;
              }
              completed.increment();
              lastDone.accumulateAndGet(done, Math::max);
              statuses.computeIfAbsent(response.status(), k -> new LongAdder()).increment();
              int expected = key != null && key.blocked() ? 402 : 200;
              long micros = Math.min(HIGHEST_MICROS, (done - intended) / 1000);
              if (timeline != null) {
                timeline.record(intended - measureStart, micros);
              }
              if (response.status() != expected) {
                errorKinds
                    .computeIfAbsent(
                        "unexpected status " + response.status() + " (expected " + expected + ")",
                        k -> new LongAdder())
                    .increment();
              } else if (expected == 200 && isStream && !response.endsWithDone()) {
                errorKinds
                    .computeIfAbsent("stream without [DONE]", k -> new LongAdder())
                    .increment();
              } else {
                all.recordValue(micros);
                if (expected == 402) {
                  blocked.increment();
                } else {
                  ok.increment();
                  if (isStream) {
                    stream.recordValue(micros);
                    streamFirstByte.recordValue(
                        Math.min(HIGHEST_MICROS, (response.headersAtNanos() - intended) / 1000));
                  } else {
                    plain.recordValue(micros);
                  }
                }
              }
            }
            reconnects.add(
                plainConnection.reconnects()
                    + (separateStreams ? streamConnection.reconnects() : 0));
          }
        };

    List<Thread> threads = new ArrayList<>(o.connections());
    for (int c = 0; c < o.connections(); c++) {
      threads.add(Thread.ofVirtual().name("load-" + c).start(worker));
    }
    long joinDeadline = end + timeoutNanos + TimeUnit.SECONDS.toNanos(5);
    for (Thread thread : threads) {
      long wait = joinDeadline - System.nanoTime();
      if (wait > 0) {
        thread.join(Duration.ofNanos(wait));
      }
    }
    long stillRunning = threads.stream().filter(Thread::isAlive).count();
    threads.forEach(Thread::interrupt);

    if (timeline != null) {
      timeline.write(o.timeline());
    }
    Map<String, Long> kinds = new TreeMap<>();
    errorKinds.forEach((k, v) -> kinds.put(k, v.sum()));
    if (stillRunning > 0) {
      kinds.put("worker still running at the deadline", stillRunning);
    }
    Map<Integer, Long> statusCounts = new TreeMap<>();
    statuses.forEach((k, v) -> statusCounts.put(k, v.sum()));
    long errors = kinds.values().stream().mapToLong(Long::longValue).sum();
    // Responses to the measured requests over the time they took to arrive: a target that keeps
    // up finishes just after the period ends, one that falls behind stretches the denominator.
    double seconds = (lastDone.get() - measureStart) / 1e9;
    return new LoadResult(
        o,
        seconds,
        sent.sum(),
        completed.sum(),
        completed.sum() / seconds,
        ok.sum(),
        blocked.sum(),
        errors,
        kinds,
        statusCounts,
        reconnects.sum(),
        all.getIntervalHistogram(),
        plain.getIntervalHistogram(),
        stream.getIntervalHistogram(),
        streamFirstByte.getIntervalHistogram());
  }

  static boolean isStream(long i, double fraction) {
    // Golden-ratio sequence: evenly spread and deterministic, so every target sees the same mix.
    double u = ((i * 0x9E3779B97F4A7C15L) >>> 11) * 0x1.0p-53;
    return u < fraction;
  }

  static int keyIndex(long i, int keys) {
    return (int) Math.floorMod(i * 0xC2B2AE3D27D4EB4FL >>> 17, (long) keys);
  }

  private static Recorder recorder() {
    return new Recorder(HIGHEST_MICROS, 3);
  }

  private static void sleepUntil(long deadline) {
    long remaining;
    while ((remaining = deadline - System.nanoTime()) > 0) {
      LockSupport.parkNanos(remaining);
    }
  }

  public static void main(String[] args) throws Exception {
    try {
      LoadCommandLine line = LoadCommandLine.parse(args);
      if (line.help()) {
        System.out.println(LoadCommandLine.USAGE);
      } else if (line.search() != null) {
        line.search().run(line.options(), System.out);
      } else {
        LoadReport.print(run(line.options()), System.out);
      }
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println(LoadCommandLine.USAGE);
      System.exit(2);
    }
  }
}

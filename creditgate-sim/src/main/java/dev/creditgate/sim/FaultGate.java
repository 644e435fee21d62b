package dev.creditgate.sim;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;

/**
 * Applies the faults asked for, in one place for every protocol: the run-time {@link Fault}, and
 * the failure a request asks for with {@code X-Sim-Fail}.
 */
final class FaultGate {

  private final Wire wire;
  private final StatsCounter stats;

  FaultGate(Wire wire, StatsCounter stats) {
    this.wire = wire;
    this.stats = stats;
  }

  /**
   * Runs the fault's first step: answers with its status (true: the request is done), or stalls
   * before the first byte. Every request a fault touches is counted once.
   */
  boolean answered(HttpExchange ex, Fault fault, ErrorShape shape)
      throws IOException, InterruptedException {
    switch (fault) {
      case Fault.Status status -> {
        stats.injectedFaults.increment();
        if (status.code() == 429) {
          ex.getResponseHeaders().set("Retry-After", "1");
        }
        wire.failure(ex, shape, status.code(), "SIMULATED upstream fault: status " + status.code());
        return true;
      }
      case Fault.StallBeforeFirstByte stall -> {
        stats.injectedFaults.increment();
        Pacing.sleepNanos(stall.stall().toNanos());
        return false;
      }
      case Fault.AbortAfterChunks abort -> {
        stats.injectedFaults.increment();
        return false;
      }
      case Fault.None none -> {
        return false;
      }
      case Fault.RefuseConnections refuse -> {
        // Raced with the listener closing: answer as if it had closed first.
        throw new AbortResponse("connections are refused");
      }
    }
  }

  /**
   * Answers with the status {@code X-Sim-Fail} asks for, after the request's latency; false when
   * the header is absent.
   */
  boolean failedAsAsked(HttpExchange ex, SimHeaders headers, long latencyNanos, ErrorShape shape)
      throws IOException, InterruptedException {
    if (headers.failStatus() == 0) {
      return false;
    }
    Pacing.sleepNanos(latencyNanos);
    stats.injectedFailures.increment();
    wire.failure(
        ex,
        shape,
        headers.failStatus(),
        "SIMULATED failure requested by " + SimHeaders.FAIL + ": " + headers.failStatus());
    return true;
  }

  /** Output deltas a stream may send before it is cut: the header's or the fault's, -1 for all. */
  static int abortAfter(SimHeaders headers, Fault fault) {
    int limit = headers.abortAfterChunks();
    if (fault instanceof Fault.AbortAfterChunks abort) {
      limit = limit < 0 ? abort.chunks() : Math.min(limit, abort.chunks());
    }
    return limit;
  }

  /** Whether a plain answer is cut after its headers and half its body. */
  static boolean abortsPlain(Fault fault) {
    return fault instanceof Fault.AbortAfterChunks;
  }
}

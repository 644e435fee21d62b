package dev.creditgate.sim;

import java.time.Duration;
import java.util.Objects;

/**
 * An upstream-wide fault, set at run time with {@link SimulatedUpstream#fault(Fault)}, {@code POST
 * /sim/fault} or {@code --fault}. Unlike the {@code X-Sim-*} request headers, which a gateway does
 * not forward, a fault applies to every request that starts after it is set, whoever sends it.
 *
 * <p>Faults apply to the protocol endpoints ({@code POST /v1/chat/completions}, {@code
 * /v1/responses}, {@code /v1/embeddings}, {@code /v1/messages}); {@code /v1/models}, {@code /sim/*}
 * and {@code /health} answer as usual, except under {@link #refuseConnections()}, which closes the
 * listening socket. Instances are immutable values; compare them with {@code equals}.
 */
public sealed interface Fault {

  /** Lowest status {@link #status(int)} accepts. */
  int MIN_STATUS = 400;

  /** Highest status {@link #status(int)} accepts. */
  int MAX_STATUS = 599;

  /** No fault: the simulator answers normally. */
  static Fault none() {
    return None.INSTANCE;
  }

  /**
   * Every protocol request is answered with this status (400-599) in its protocol's error shape; a
   * 429 also carries {@code Retry-After: 1}.
   *
   * @throws IllegalArgumentException if the code is outside 400-599
   */
  static Fault status(int code) {
    return new Status(code);
  }

  /**
   * Every protocol request waits this long before any header is sent, then is answered normally.
   *
   * @throws IllegalArgumentException if the stall is not positive
   */
  static Fault stallBeforeFirstByte(Duration stall) {
    return new StallBeforeFirstByte(stall);
  }

  /**
   * Every stream drops its connection after {@code chunks} output deltas (no final event or usage);
   * every plain answer drops it after its headers and half its body.
   *
   * @throws IllegalArgumentException if chunks is negative
   */
  static Fault abortAfterChunks(int chunks) {
    return new AbortAfterChunks(chunks);
  }

  /**
   * The listening socket is closed and open connections are dropped, so connecting fails as with a
   * dead process; clearing the fault listens again on the same port.
   */
  static Fault refuseConnections() {
    return RefuseConnections.INSTANCE;
  }

  /**
   * Parses the command-line form: {@code none}, a status such as {@code 429}, {@code stall:MS},
   * {@code abort:N} or {@code refuse}.
   *
   * @throws IllegalArgumentException naming the value when it is none of these
   */
  static Fault parse(String spec) {
    Objects.requireNonNull(spec, "spec");
    String s = spec.strip();
    try {
      if (s.equals("none")) {
        return none();
      }
      if (s.equals("refuse")) {
        return refuseConnections();
      }
      if (s.startsWith("stall:")) {
        return stallBeforeFirstByte(Duration.ofMillis(Long.parseLong(s.substring(6))));
      }
      if (s.startsWith("abort:")) {
        return abortAfterChunks(Integer.parseInt(s.substring(6)));
      }
      return status(Integer.parseInt(s));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "fault must be none, a status 400-599, stall:MS, abort:N or refuse, but was '"
              + spec
              + "'",
          e);
    }
  }

  /** The command-line form, which {@link #parse} reads back. */
  String spec();

  /** See {@link Fault#none()}. */
  final class None implements Fault {
    private static final None INSTANCE = new None();

    private None() {}

    @Override
    public String spec() {
      return "none";
    }

    @Override
    public String toString() {
      return "Fault.none()";
    }
  }

  /**
   * See {@link Fault#status(int)}.
   *
   * @param code the HTTP status to answer with
   */
  record Status(int code) implements Fault {
    public Status {
      if (code < MIN_STATUS || code > MAX_STATUS) {
        throw new IllegalArgumentException(
            "fault status must be between 400 and 599, but was " + code);
      }
    }

    @Override
    public String spec() {
      return Integer.toString(code);
    }
  }

  /**
   * See {@link Fault#stallBeforeFirstByte(Duration)}.
   *
   * @param stall how long each request waits before its first byte
   */
  record StallBeforeFirstByte(Duration stall) implements Fault {
    public StallBeforeFirstByte {
      Objects.requireNonNull(stall, "stall");
      if (stall.isNegative() || stall.isZero()) {
        throw new IllegalArgumentException("fault stall must be positive, but was " + stall);
      }
    }

    @Override
    public String spec() {
      return "stall:" + stall.toMillis();
    }
  }

  /**
   * See {@link Fault#abortAfterChunks(int)}.
   *
   * @param chunks output deltas a stream sends before its connection is dropped
   */
  record AbortAfterChunks(int chunks) implements Fault {
    public AbortAfterChunks {
      if (chunks < 0) {
        throw new IllegalArgumentException(
            "fault abortAfterChunks must not be negative, but was " + chunks);
      }
    }

    @Override
    public String spec() {
      return "abort:" + chunks;
    }
  }

  /** See {@link Fault#refuseConnections()}. */
  final class RefuseConnections implements Fault {
    private static final RefuseConnections INSTANCE = new RefuseConnections();

    private RefuseConnections() {}

    @Override
    public String spec() {
      return "refuse";
    }

    @Override
    public String toString() {
      return "Fault.refuseConnections()";
    }
  }
}

package dev.creditgate.sim;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A SIMULATED LLM upstream for trials, tests and load benchmarks, speaking OpenAI's and Anthropic's
 * protocols. It is not a language model: its answers are words picked deterministically from a hash
 * of the request, and every response says so (an {@code X-Simulator} header, ids containing {@code
 * sim}, models owned by {@code creditgate-simulator}).
 *
 * <p>Endpoints: {@code POST /v1/chat/completions} (plain and {@code "stream": true} server-sent
 * events, with a final usage chunk when {@code stream_options.include_usage} is true), {@code POST
 * /v1/responses} (OpenAI's Responses API, plain and typed events), {@code POST /v1/embeddings},
 * {@code POST /v1/messages} (Anthropic's Messages API, plain and named events), {@code GET
 * /v1/models}, {@code GET /v1/models/{id}}, {@code GET /sim/stats}, {@code POST /sim/stats/reset},
 * {@code GET|POST /sim/fault}, {@code GET /health}.
 *
 * <p>Usage is realistic in shape: prompt tokens are about 4/3 of the words in the messages plus a
 * per-message overhead; output tokens are {@code min(cap, n)} for a deterministic {@code n} in [8,
 * 64]; cached and reasoning token details are always present. Request headers inject faults for
 * tests, each in the endpoint's own error shape:
 *
 * <ul>
 *   <li>{@code X-Sim-Fail: 500} answers with that status (400-599);
 *   <li>{@code X-Sim-No-Usage: true} omits usage;
 *   <li>{@code X-Sim-Latency-Ms: n} overrides the latency for this request;
 *   <li>{@code X-Sim-Cached-Tokens: n} and {@code X-Sim-Reasoning-Tokens: n} set those details
 *       (reasoning tokens count towards output tokens and the output cap); {@code
 *       X-Sim-Cache-Creation-Tokens: n} sets Anthropic's cache creation tokens;
 *   <li>{@code X-Sim-Abort-After-Chunks: n} drops the connection after n output deltas of a stream,
 *       without the final events or usage.
 * </ul>
 *
 * <p>A gateway does not forward those headers, so {@link #fault(Fault)} sets an upstream-wide
 * {@link Fault} at run time. {@link #stats()} counts what was served, so fault drills can compare
 * the usage the upstream reported with the charges a gateway recorded. One virtual thread per
 * request; {@link #close()} stops the server and its executor.
 */
public final class SimulatedUpstream implements AutoCloseable {

  /** Loopback only by default: a simulator has no business on a public interface. */
  public static final String DEFAULT_HOST = "127.0.0.1";

  /** Port 0 picks a free port; read it back with {@link #port()}. */
  public static final int DEFAULT_PORT = 0;

  /** No added latency unless asked for. */
  public static final Duration DEFAULT_LATENCY = Duration.ZERO;

  /** 0 means tokens are produced instantly; otherwise the stream is paced at this rate. */
  public static final int DEFAULT_TOKENS_PER_SECOND = 0;

  /** Request bodies above this size get 413. */
  public static final int DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

  /** Models listed by {@code GET /v1/models}; any model name is accepted by completions. */
  public static final List<String> DEFAULT_MODELS = List.of("sim-lite", "sim-pro", "sim-max");

  private static final Duration STOP_GRACE = Duration.ofSeconds(5);
  private static final Logger LOG = LoggerFactory.getLogger(SimulatedUpstream.class);

  static {
    // The JDK server reads these once, when its first instance starts. Without TCP_NODELAY each
    // small SSE chunk waits for the ACK of the previous one (Nagle against delayed ACK: up to
    // 40 ms per chunk behind a proxy); above 200 idle keep-alive connections it closes the extra
    // ones, which a load test with many connections would see as resets. Explicit settings win.
    setIfAbsent("sun.net.httpserver.nodelay", "true");
    setIfAbsent("sun.net.httpserver.maxIdleConnections", "10000");
  }

  private final String host;
  private final int requestedPort;
  private final Duration latency;
  private final int tokensPerSecond;
  private final String apiKey;
  private final List<String> models;
  private final Clock clock;
  private final int maxBodyBytes;
  private final boolean ignoreMaxTokens;
  private final java.nio.file.Path requestLogFile;
  private RequestLog requestLog = RequestLog.NONE;
  private final int answerPaddingBytes;
  private final Duration stallAfterHeaders;
  private final StatsCounter stats = new StatsCounter();
  private final AtomicReference<Fault> fault;
  private final Object lock = new Object();
  private Listener listener;
  private ExecutorService executor;
  private boolean closed;

  private SimulatedUpstream(Builder b) {
    this.host = b.host;
    this.requestedPort = b.port;
    this.latency = b.latency;
    this.tokensPerSecond = b.tokensPerSecond;
    this.apiKey = b.apiKey;
    this.models = b.models;
    this.clock = b.clock;
    this.maxBodyBytes = b.maxBodyBytes;
    this.ignoreMaxTokens = b.ignoreMaxTokens;
    this.requestLogFile = b.requestLog;
    this.answerPaddingBytes = b.answerPaddingBytes;
    this.stallAfterHeaders = b.stallAfterHeaders;
    this.fault = new AtomicReference<>(b.fault);
  }

  private static void setIfAbsent(String property, String value) {
    if (System.getProperty(property) == null) {
      System.setProperty(property, value);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Binds the port and starts serving. Returns this, so {@code builder()...build().start()} reads
   * well.
   *
   * @throws IllegalStateException if already started or closed
   * @throws UncheckedIOException if the port cannot be bound
   */
  public SimulatedUpstream start() {
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("simulator is closed");
      }
      if (listener != null) {
        throw new IllegalStateException("simulator is already started on port " + port());
      }
      if (requestLogFile != null) {
        requestLog = RequestLog.open(requestLogFile);
      }
      ObjectMapper mapper = new ObjectMapper();
      SimContext ctx =
          new SimContext(
              mapper,
              new Wire(
                  mapper,
                  new Wire.PlainFaults(answerPaddingBytes, stallAfterHeaders.toNanos()),
                  stats),
              new Pacing(tokensPerSecond),
              latency.toNanos(),
              apiKey,
              models,
              clock,
              maxBodyBytes,
              ignoreMaxTokens,
              requestLog,
              stats);
      SimRouter router =
          new SimRouter(ctx, new ControlEndpoint(ctx, fault::get, this::fault), fault::get);
      ExecutorService exec =
          Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("sim-upstream-", 0).factory());
      try {
        listener = new Listener(host, requestedPort, router, exec);
      } catch (UncheckedIOException e) {
        exec.close();
        requestLog.close();
        throw e;
      }
      executor = exec;
      if (fault.get() instanceof Fault.RefuseConnections) {
        listener.stop();
      }
      LOG.info(
          "SIMULATED upstream (not an LLM) listening on {} with latency {} ms and {}",
          baseUrl(),
          latency.toMillis(),
          tokensPerSecond == 0 ? "instant tokens" : tokensPerSecond + " tokens/s");
      return this;
    }
  }

  /** The bound port; it stays the same while connections are refused. */
  public int port() {
    synchronized (lock) {
      if (listener == null) {
        throw new IllegalStateException("simulator is not started");
      }
      return listener.port();
    }
  }

  /** The OpenAI base URL, e.g. {@code http://127.0.0.1:8081/v1}. */
  public String baseUrl() {
    return "http://" + hostForUrl() + ":" + port() + "/v1";
  }

  private String hostForUrl() {
    return host.contains(":") ? "[" + host + "]" : host;
  }

  /**
   * Sets the upstream-wide fault for every request that starts after this returns; {@link
   * Fault#none()} clears it. Moving to {@link Fault#refuseConnections()} closes the listening
   * socket and drops open connections; moving away from it listens again on the same port. Safe to
   * call from any thread, before or after {@link #start()}.
   *
   * @throws UncheckedIOException if the port cannot be bound again after refusing connections
   */
  public void fault(Fault fault) {
    Objects.requireNonNull(fault, "fault");
    synchronized (lock) {
      boolean running = listener != null && !closed;
      if (fault instanceof Fault.RefuseConnections) {
        // Set first, so a request racing the close is dropped rather than answered.
        this.fault.set(fault);
        if (running) {
          listener.stop();
        }
      } else {
        if (running && !listener.listening()) {
          listener.resume();
        }
        this.fault.set(fault);
      }
      LOG.info("SIMULATED upstream fault: {}", fault.spec());
    }
  }

  /** The upstream-wide fault in force. */
  public Fault fault() {
    return fault.get();
  }

  /** What was served since start or the last reset. */
  public SimulatorStats stats() {
    return stats.snapshot();
  }

  /** Sets every counter back to zero. */
  public void resetStats() {
    stats.reset();
  }

  /** Stops accepting, drops open exchanges and stops the executor. Idempotent. */
  @Override
  public void close() {
    ExecutorService exec;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      if (listener == null) {
        return;
      }
      listener.stop();
      exec = executor;
    }
    // Outside the lock: a request still running may be setting a fault.
    exec.shutdownNow();
    try {
      if (!exec.awaitTermination(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
        LOG.warn("SIMULATED upstream: some requests were still running after {}", STOP_GRACE);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    requestLog.close();
    LOG.info("SIMULATED upstream on port {} stopped", listener.port());
  }

  /**
   * Runs the simulator until the process is stopped: {@code java -cp ...
   * dev.creditgate.sim.SimulatedUpstream --port 8081 --latency-ms 20}. Options: {@code --host},
   * {@code --port}, {@code --latency-ms}, {@code --tokens-per-second}, {@code --api-key}, {@code
   * --ignore-max-tokens}, {@code --request-log}, {@code --fault}. Prints one line starting with
   * "SIMULATED upstream" once it listens.
   */
  public static void main(String[] args) throws InterruptedException {
    CommandLine.run(args);
  }

  static void printBanner(SimulatedUpstream sim, PrintStream out) {
    out.println(
        "SIMULATED upstream (creditgate-simulator, not an LLM) listening on "
            + sim.baseUrl()
            + " latency="
            + sim.latency.toMillis()
            + "ms tokens-per-second="
            + sim.tokensPerSecond);
    out.flush();
  }

  /**
   * Parses the command-line options into a builder; null for {@code --help}.
   *
   * @throws IllegalArgumentException naming the bad option or value
   */
  public static Builder fromArgs(String... args) {
    return CommandLine.parse(args);
  }

  /** Options for a {@link SimulatedUpstream}; every setter validates its value. */
  public static final class Builder {
    private String host = DEFAULT_HOST;
    private int port = DEFAULT_PORT;
    private Duration latency = DEFAULT_LATENCY;
    private int tokensPerSecond = DEFAULT_TOKENS_PER_SECOND;
    private String apiKey;
    private List<String> models = DEFAULT_MODELS;
    private Clock clock = Clock.systemUTC();
    private int maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
    private boolean ignoreMaxTokens;
    private java.nio.file.Path requestLog;
    private int answerPaddingBytes;
    private Duration stallAfterHeaders = Duration.ZERO;
    private Fault fault = Fault.none();

    private Builder() {}

    /**
     * The upstream-wide fault in force from the start ({@link Fault#none()} by default); change it
     * later with {@link SimulatedUpstream#fault(Fault)}.
     */
    public Builder fault(Fault fault) {
      this.fault = Objects.requireNonNull(fault, "fault");
      return this;
    }

    /**
     * Appends one line per protocol call taken on to {@code file}: the request's {@code user} field
     * (Anthropic: {@code metadata.user_id}) or {@code -}, flushed before the answer. For drills
     * that compare what the upstream served, call by call, with what was charged. Off by default.
     */
    public Builder requestLog(java.nio.file.Path file) {
      this.requestLog = Objects.requireNonNull(file, "file");
      return this;
    }

    /**
     * A provider whose plain answers are large: each is padded with spaces after its JSON to at
     * least this many bytes (0, the default: not padded). Streams are not padded. For testing a
     * gateway's bound on the answers it reads.
     */
    public Builder answerPaddingBytes(int bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException(
            "answerPaddingBytes must not be negative, but was " + bytes);
      }
      this.answerPaddingBytes = bytes;
      return this;
    }

    /**
     * A provider that stalls mid-answer: a plain answer sends its headers and the first half of its
     * body, then waits this long before the rest (zero, the default: no stall). For testing a
     * gateway's idle timeout.
     */
    public Builder stallAfterHeaders(Duration stall) {
      Objects.requireNonNull(stall, "stallAfterHeaders");
      if (stall.isNegative()) {
        throw new IllegalArgumentException(
            "stallAfterHeaders must not be negative, but was " + stall);
      }
      this.stallAfterHeaders = stall;
      return this;
    }

    /**
     * A misbehaving provider: answers run to their natural length whatever {@code max_tokens},
     * {@code max_completion_tokens} or {@code max_output_tokens} say (usage reports what was sent).
     * For testing that a gateway stops a stream at what it can charge for. Off by default.
     */
    public Builder ignoreMaxTokens(boolean ignore) {
      this.ignoreMaxTokens = ignore;
      return this;
    }

    /** The address to bind; default {@link SimulatedUpstream#DEFAULT_HOST}. */
    public Builder host(String host) {
      Objects.requireNonNull(host, "host");
      if (host.isBlank()) {
        throw new IllegalArgumentException("host must not be blank, but was '" + host + "'");
      }
      this.host = host;
      return this;
    }

    /** The port to bind, 0 for any free port. */
    public Builder port(int port) {
      if (port < 0 || port > 65_535) {
        throw new IllegalArgumentException("port must be between 0 and 65535, but was " + port);
      }
      this.port = port;
      return this;
    }

    /** Fixed delay before the first byte of every response. */
    public Builder latency(Duration latency) {
      Objects.requireNonNull(latency, "latency");
      if (latency.isNegative()) {
        throw new IllegalArgumentException("latency must not be negative, but was " + latency);
      }
      this.latency = latency;
      return this;
    }

    /**
     * Token rate: a stream sends one content chunk per token at this rate after the first byte, and
     * a non-streaming answer waits for all its tokens. 0 means instant.
     */
    public Builder tokensPerSecond(int tokensPerSecond) {
      if (tokensPerSecond < 0) {
        throw new IllegalArgumentException(
            "tokensPerSecond must not be negative, but was " + tokensPerSecond);
      }
      this.tokensPerSecond = tokensPerSecond;
      return this;
    }

    /**
     * When set, {@code /v1/*} requires {@code Authorization: Bearer <apiKey>} ({@code /v1/messages}
     * also takes {@code x-api-key: <apiKey>}); default: any.
     */
    public Builder apiKey(String apiKey) {
      if (apiKey != null && apiKey.isBlank()) {
        throw new IllegalArgumentException("apiKey must not be blank when set, but was blank");
      }
      this.apiKey = apiKey;
      return this;
    }

    /** Model ids listed by {@code GET /v1/models}. */
    public Builder models(List<String> models) {
      Objects.requireNonNull(models, "models");
      if (models.isEmpty() || models.stream().anyMatch(m -> m == null || m.isBlank())) {
        throw new IllegalArgumentException(
            "models must be a non-empty list of non-blank ids, but was " + models);
      }
      this.models = List.copyOf(models);
      return this;
    }

    /** Clock for the {@code created} timestamps. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Bodies above this many bytes get 413. */
    public Builder maxBodyBytes(int maxBodyBytes) {
      if (maxBodyBytes < 1) {
        throw new IllegalArgumentException(
            "maxBodyBytes must be positive, but was " + maxBodyBytes);
      }
      this.maxBodyBytes = maxBodyBytes;
      return this;
    }

    public SimulatedUpstream build() {
      return new SimulatedUpstream(this);
    }
  }
}

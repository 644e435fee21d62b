package dev.creditgate.sim;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/** The simulator's command line: options into a builder, and a run until the process stops. */
final class CommandLine {

  private CommandLine() {}

  static final String USAGE =
      """
      usage: SimulatedUpstream [--host 127.0.0.1] [--port 0] [--latency-ms 0] \
      [--tokens-per-second 0] [--api-key KEY] [--ignore-max-tokens=false] [--request-log FILE] \
      [--fault none|429|stall:MS|abort:N|refuse]
      A SIMULATED LLM upstream (not an LLM) speaking OpenAI's chat completions, responses and
      embeddings and Anthropic's messages, for trials and load tests.""";

  /** Runs the simulator until the process is stopped; exits with 2 on a bad option. */
  static void run(String[] args) throws InterruptedException {
    SimulatedUpstream.Builder builder;
    try {
      builder = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
      return;
    }
    if (builder == null) {
      System.out.println(USAGE);
      return;
    }
    SimulatedUpstream sim = builder.build().start();
    SimulatedUpstream.printBanner(sim, System.out);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  sim.close();
                  stopped.countDown();
                },
                "sim-shutdown"));
    stopped.await();
  }

  /**
   * Parses the options into a builder; null for {@code --help}.
   *
   * @throws IllegalArgumentException naming the bad option or value
   */
  static SimulatedUpstream.Builder parse(String... args) {
    SimulatedUpstream.Builder builder = SimulatedUpstream.builder();
    for (int i = 0; i < args.length; i++) {
      String option = args[i];
      if (option.equals("--help") || option.equals("-h")) {
        return null;
      }
      String value;
      int eq = option.indexOf('=');
      if (option.startsWith("--") && eq > 0) {
        value = option.substring(eq + 1);
        option = option.substring(0, eq);
      } else {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("option " + option + " needs a value");
        }
        value = args[++i];
      }
      switch (option) {
        case "--host" -> builder.host(value);
        case "--port" -> builder.port(parseInt(option, value));
        case "--latency-ms" -> builder.latency(Duration.ofMillis(parseInt(option, value)));
        case "--tokens-per-second" -> builder.tokensPerSecond(parseInt(option, value));
        case "--api-key" -> builder.apiKey(value);
        case "--ignore-max-tokens" -> builder.ignoreMaxTokens(Boolean.parseBoolean(value));
        case "--request-log" -> builder.requestLog(java.nio.file.Path.of(value));
        case "--fault" -> builder.fault(Fault.parse(value));
        default -> throw new IllegalArgumentException("unknown option '" + option + "'");
      }
    }
    return builder;
  }

  private static int parseInt(String option, String value) {
    try {
      return Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          option + " must be an integer, but was '" + value + "'", e);
    }
  }
}

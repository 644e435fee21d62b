package dev.creditgate.sim;

import java.util.concurrent.atomic.LongAdder;

/** Thread-safe counters behind {@link SimulatorStats}. */
final class StatsCounter {

  final LongAdder chatRequests = new LongAdder();
  final LongAdder responsesRequests = new LongAdder();
  final LongAdder embeddingsRequests = new LongAdder();
  final LongAdder messagesRequests = new LongAdder();
  final LongAdder completedResponses = new LongAdder();
  final LongAdder streamedResponses = new LongAdder();
  final LongAdder rejectedRequests = new LongAdder();
  final LongAdder injectedFailures = new LongAdder();
  final LongAdder injectedFaults = new LongAdder();
  final LongAdder abortedResponses = new LongAdder();
  private final LongAdder usageReports = new LongAdder();
  private final LongAdder promptTokens = new LongAdder();
  private final LongAdder completionTokens = new LongAdder();
  private final LongAdder cachedTokens = new LongAdder();
  private final LongAdder reasoningTokens = new LongAdder();
  private final LongAdder cacheCreationTokens = new LongAdder();

  /**
   * Counts a usage report. Called just before the usage bytes are written, so a client that has
   * read them always finds them counted; {@link #unrecordUsage} takes them back if the write fails.
   */
  void recordUsage(Usage usage) {
    add(usage, 1);
  }

  void unrecordUsage(Usage usage) {
    add(usage, -1);
  }

  private void add(Usage usage, int sign) {
    usageReports.add(sign);
    promptTokens.add((long) sign * usage.promptTokens());
    completionTokens.add((long) sign * usage.completionTokens());
    cachedTokens.add((long) sign * usage.cachedTokens());
    reasoningTokens.add((long) sign * usage.reasoningTokens());
    cacheCreationTokens.add((long) sign * usage.cacheCreationTokens());
  }

  SimulatorStats snapshot() {
    return new SimulatorStats(
        chatRequests.sum(),
        completedResponses.sum(),
        streamedResponses.sum(),
        rejectedRequests.sum(),
        injectedFailures.sum(),
        abortedResponses.sum(),
        usageReports.sum(),
        promptTokens.sum(),
        completionTokens.sum(),
        cachedTokens.sum(),
        reasoningTokens.sum(),
        responsesRequests.sum(),
        embeddingsRequests.sum(),
        messagesRequests.sum(),
        injectedFaults.sum(),
        cacheCreationTokens.sum());
  }

  void reset() {
    for (LongAdder adder :
        new LongAdder[] {
          chatRequests,
          responsesRequests,
          embeddingsRequests,
          messagesRequests,
          completedResponses,
          streamedResponses,
          rejectedRequests,
          injectedFailures,
          injectedFaults,
          abortedResponses,
          usageReports,
          promptTokens,
          completionTokens,
          cachedTokens,
          reasoningTokens,
          cacheCreationTokens
        }) {
      adder.reset();
    }
  }
}

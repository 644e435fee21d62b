package dev.creditgate.sim;

/**
 * What a {@link SimulatedUpstream} has served since it started (or since the last {@link
 * SimulatedUpstream#resetStats()}).
 *
 * <p>Token totals count only usage the simulator actually sent to a client, in its own terms
 * whatever the protocol: prompt tokens are the whole counted prompt (OpenAI's {@code prompt_tokens}
 * or {@code input_tokens}; Anthropic's {@code input_tokens + cache_creation_input_tokens +
 * cache_read_input_tokens}), completion tokens the output tokens. A chat stream without {@code
 * stream_options.include_usage}, or a request with {@code X-Sim-No-Usage: true}, serves tokens but
 * reports none, so it adds to {@link #completedResponses()} but not to the token totals. A usage
 * write that fails (client gone) is not counted; one that reached the kernel's socket buffer before
 * the client vanished is, which no server can tell apart.
 *
 * @param chatRequests every {@code POST /v1/chat/completions} received, valid or not
 * @param completedResponses successful (200) answers written to the end, on any endpoint
 * @param streamedResponses of those, the ones sent as server-sent events
 * @param rejectedRequests requests answered 4xx because they were malformed or unauthorized
 * @param injectedFailures requests answered with the status asked for by {@code X-Sim-Fail}
 * @param abortedResponses responses cut off on purpose ({@code X-Sim-Abort-After-Chunks} or a
 *     {@link Fault}), or because the client went away
 * @param usageReports responses whose usage reached the client
 * @param promptTokens sum of the prompt tokens over the usage reports
 * @param completionTokens sum of the output tokens over the usage reports
 * @param cachedTokens sum of the cached prompt tokens (OpenAI's {@code cached_tokens}, Anthropic's
 *     {@code cache_read_input_tokens})
 * @param reasoningTokens sum of the reasoning tokens
 * @param responsesRequests every {@code POST /v1/responses} received, valid or not
 * @param embeddingsRequests every {@code POST /v1/embeddings} received, valid or not
 * @param messagesRequests every {@code POST /v1/messages} received, valid or not
 * @param injectedFaults protocol requests a run-time {@link Fault} answered with its status,
 *     stalled or set to be cut off
 * @param cacheCreationTokens sum of Anthropic's {@code cache_creation_input_tokens}
 */
public record SimulatorStats(
    long chatRequests,
    long completedResponses,
    long streamedResponses,
    long rejectedRequests,
    long injectedFailures,
    long abortedResponses,
    long usageReports,
    long promptTokens,
    long completionTokens,
    long cachedTokens,
    long reasoningTokens,
    long responsesRequests,
    long embeddingsRequests,
    long messagesRequests,
    long injectedFaults,
    long cacheCreationTokens) {

  /** The counters of a simulator that served chat completions only; the others are zero. */
  public SimulatorStats(
      long chatRequests,
      long completedResponses,
      long streamedResponses,
      long rejectedRequests,
      long injectedFailures,
      long abortedResponses,
      long usageReports,
      long promptTokens,
      long completionTokens,
      long cachedTokens,
      long reasoningTokens) {
    this(
        chatRequests,
        completedResponses,
        streamedResponses,
        rejectedRequests,
        injectedFailures,
        abortedResponses,
        usageReports,
        promptTokens,
        completionTokens,
        cachedTokens,
        reasoningTokens,
        0,
        0,
        0,
        0,
        0);
  }
}

package dev.creditgate.sim;

/**
 * What a {@link SimulatedUpstream} has served since it started (or since the last {@link
 * SimulatedUpstream#resetStats()}).
 *
 * <p>Token totals count only usage the simulator actually sent to a client: a non-streaming
 * response's {@code usage} object, or a stream's final usage chunk. A stream without {@code
 * stream_options.include_usage}, or a request with {@code X-Sim-No-Usage: true}, serves tokens but
 * reports none, so it adds to {@link #completedResponses()} but not to the token totals. A usage
 * write that fails (client gone) is not counted; one that reached the kernel's socket buffer before
 * the client vanished is, which no server can tell apart.
 *
 * @param chatRequests every {@code POST /v1/chat/completions} received, valid or not
 * @param completedResponses successful (200) completions written to the end
 * @param streamedResponses of those, the ones sent as server-sent events
 * @param rejectedRequests requests answered 4xx because they were malformed or unauthorized
 * @param injectedFailures requests answered with the status asked for by {@code X-Sim-Fail}
 * @param abortedResponses responses cut off on purpose by {@code X-Sim-Abort-After-Chunks}, or
 *     because the client went away
 * @param usageReports responses whose usage reached the client
 * @param promptTokens sum of {@code prompt_tokens} over the usage reports
 * @param completionTokens sum of {@code completion_tokens} over the usage reports
 * @param cachedTokens sum of {@code prompt_tokens_details.cached_tokens}
 * @param reasoningTokens sum of {@code completion_tokens_details.reasoning_tokens}
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
    long reasoningTokens) {}

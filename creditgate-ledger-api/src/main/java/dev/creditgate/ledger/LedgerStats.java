package dev.creditgate.ledger;

import java.time.Duration;

/**
 * A reading of the ledger's health counters, for a metrics registry (gauges for the spool,
 * monotonic counters for the rest).
 *
 * @param spoolPending charges in the durable spool waiting to be written to the database
 * @param spoolBytes size of the spool file
 * @param replayLag age of the oldest spooled charge; zero when the spool is empty
 * @param spooledTotal charges ever spooled because the database could not be written
 * @param replayedTotal spooled charges since written to the database (applied or found already
 *     applied)
 * @param rejectedTotal spooled charges the database refused on replay (e.g. an idempotency
 *     conflict); kept in the spool directory's rejected file for an operator
 * @param unpricedCharges charges no price rule matched, recorded at the fallback price (0 without
 *     one)
 * @param cacheWriteFailures cache updates that still failed after their retries
 * @param groupCommits transactions the group commit wrote (each one commit, one fsync)
 * @param groupCommitCharges charges those transactions carried; divided by {@code groupCommits},
 *     the mean batch size
 * @param groupCommitNanos time spent writing and committing them
 * @param queued charges accepted and journaled but not yet written to the database (write-behind);
 *     normally a few milliseconds' worth
 */
public record LedgerStats(
    long spoolPending,
    long spoolBytes,
    Duration replayLag,
    long spooledTotal,
    long replayedTotal,
    long rejectedTotal,
    long unpricedCharges,
    long cacheWriteFailures,
    long groupCommits,
    long groupCommitCharges,
    long groupCommitNanos,
    long queued) {}

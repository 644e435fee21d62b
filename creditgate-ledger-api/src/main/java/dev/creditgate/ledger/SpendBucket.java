package dev.creditgate.ledger;

import java.time.Instant;
import java.util.Objects;

/**
 * One bucket of a {@link SpendSeries} for one group.
 *
 * @param start the bucket's first instant (UTC, on a whole minute, hour or day)
 * @param group the model the charges were priced on, or the alias they were asked for, as the query
 *     groups; "" when the entries recorded none
 * @param credits credits charged in the bucket less credits refunded in it (negative when the
 *     refunds of older charges outweigh the bucket's charges)
 * @param refunded credits refunded in the bucket, already taken off {@code credits}
 * @param charges the number of charges
 * @param inputTokens the charges' input tokens
 * @param outputTokens the charges' output tokens
 */
public record SpendBucket(
    Instant start,
    String group,
    long credits,
    long refunded,
    long charges,
    long inputTokens,
    long outputTokens) {

  public SpendBucket {
    Objects.requireNonNull(start, "start");
    Objects.requireNonNull(group, "group");
  }
}

package dev.creditgate.bench.load;

import java.util.Map;
import org.HdrHistogram.Histogram;

/** What one run measured; latencies in microseconds from the intended send time. */
public record LoadResult(
    LoadOptions options,
    double measuredSeconds,
    long sent,
    long completed,
    double achievedRate,
    long ok,
    long blocked,
    long errors,
    Map<String, Long> errorKinds,
    Map<Integer, Long> statuses,
    long reconnects,
    Histogram all,
    Histogram plain,
    Histogram stream,
    Histogram streamFirstByte) {

  /** Requests whose achieved rate is at least this share of the target pass the search. */
  static final double SUSTAINED_SHARE = 0.95;

  /** Whether this run counts as sustained: no errors, the rate achieved, p99 under the limit. */
  public boolean sustained(double p99LimitMillis) {
    return sustained(99, p99LimitMillis);
  }

  /** As {@link #sustained(double)} with another percentile. */
  public boolean sustained(double percentile, double limitMillis) {
    return errors == 0
        && achievedRate >= SUSTAINED_SHARE * options.rate()
        && all.getTotalCount() > 0
        && all.getValueAtPercentile(percentile) / 1000.0 <= limitMillis;
  }
}

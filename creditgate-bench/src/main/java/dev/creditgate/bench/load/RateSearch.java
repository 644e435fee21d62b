package dev.creditgate.bench.load;

import java.io.PrintStream;
import java.time.Duration;

/**
 * A search for the highest rate that passes {@link LoadResult#sustained(double, double)}: geometric
 * steps from {@code startRate} (times {@code factor}) up to {@code maxRate}, then two bisections
 * between the last pass and the first failure. Each step runs for {@code stepDuration}.
 *
 * @param percentile the latency percentile limited to {@code limitMillis}
 */
record RateSearch(
    int startRate,
    double factor,
    int maxRate,
    Duration stepDuration,
    double percentile,
    double limitMillis) {

  static final int DEFAULT_START_RATE = 500;
  static final double DEFAULT_FACTOR = 1.3;
  static final int DEFAULT_MAX_RATE = 20_000;
  static final double DEFAULT_PERCENTILE = 99;
  static final double DEFAULT_LIMIT_MILLIS = 50;

  /** Runs the search from {@code base}, prints a STEP line per step and the SEARCH line. */
  int run(LoadOptions base, PrintStream out) throws InterruptedException {
    int lastPass = 0;
    int firstFail = 0;
    int rate = startRate;
    while (rate <= maxRate) {
      boolean pass = step(base, rate, out);
      if (!pass) {
        firstFail = rate;
        break;
      }
      lastPass = rate;
      rate = (int) Math.ceil(rate * factor);
    }
    for (int i = 0; i < 2 && firstFail > 0 && firstFail - lastPass > 1; i++) {
      int mid = (lastPass + firstFail) / 2;
      if (mid <= 0) {
        break;
      }
      boolean pass = step(base, mid, out);
      if (pass) {
        lastPass = mid;
      } else {
        firstFail = mid;
      }
    }
    LoadReport.printSearch(out, base.label(), lastPass, firstFail, percentile, limitMillis);
    return lastPass;
  }

  /**
   * One search step. A failed step is run once more and fails only if the retry fails too: on a
   * shared machine a burst of someone else's work can spoil one short step's p99.
   */
  private boolean step(LoadOptions base, int rate, PrintStream out) throws InterruptedException {
    for (int attempt = 1; attempt <= 2; attempt++) {
      LoadResult r = LoadGenerator.run(base.withRate(rate, stepDuration));
      boolean pass = r.sustained(percentile, limitMillis);
      out.println(LoadReport.stepLine(r, pass) + (attempt == 2 ? " (retry)" : ""));
      if (pass) {
        return true;
      }
    }
    return false;
  }
}

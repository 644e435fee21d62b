package dev.creditgate.bench.load;

import java.io.PrintStream;
import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * What the load generator prints. The {@code RESULT}, {@code STEP} and {@code SEARCH} lines are
 * read by the scripts under bench/ (bench/summarize-load.awk and others): their keys and formats
 * must not change.
 */
final class LoadReport {

  private LoadReport() {}

  /** Prints the human-readable report and one RESULT line for scripts. */
  static void print(LoadResult r, PrintStream out) {
    LoadOptions o = r.options();
    out.printf(
        Locale.ROOT,
        "== %s: %d req/s for %s (warm-up %s), %d connections, stream fraction %.2f, %d keys%n",
        o.label(),
        o.rate(),
        o.duration(),
        o.warmup(),
        o.connections(),
        o.streamFraction(),
        o.keys().size());
    out.printf(
        Locale.ROOT,
        "sent %d, completed %d (achieved %.1f req/s), ok %d, blocked(402) %d, errors %d,"
            + " reconnects %d, statuses %s%n",
        r.sent(),
        r.completed(),
        r.achievedRate(),
        r.ok(),
        r.blocked(),
        r.errors(),
        r.reconnects(),
        r.statuses());
    r.errorKinds().forEach((k, v) -> out.printf("  error: %s x %d%n", k, v));
    out.println(
        "latency ms from intended send    count      p50      p90      p99    p99.9      max");
    row(out, "all (expected status)", r.all());
    row(out, "non-streaming 200", r.plain());
    row(out, "streaming 200, to [DONE]", r.stream());
    row(out, "streaming 200, to headers", r.streamFirstByte());
    out.printf(
        Locale.ROOT,
        "RESULT label=%s rate=%d achieved=%.1f sent=%d completed=%d ok=%d blocked=%d errors=%d"
            + " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f"
            + " stream_p50_ms=%.3f stream_p99_ms=%.3f%n",
        o.label(),
        o.rate(),
        r.achievedRate(),
        r.sent(),
        r.completed(),
        r.ok(),
        r.blocked(),
        r.errors(),
        ms(r.all(), 50),
        ms(r.all(), 90),
        ms(r.all(), 99),
        ms(r.all(), 99.9),
        r.all().getMaxValue() / 1000.0,
        ms(r.stream(), 50),
        ms(r.stream(), 99));
  }

  /** The STEP line of one search step, without its end of line. */
  static String stepLine(LoadResult r, boolean pass) {
    return String.format(
        Locale.ROOT,
        "STEP label=%s rate=%d achieved=%.1f errors=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f"
            + " p999_ms=%.3f %s",
        r.options().label(),
        r.options().rate(),
        r.achievedRate(),
        r.errors(),
        ms(r.all(), 50),
        ms(r.all(), 90),
        ms(r.all(), 99),
        ms(r.all(), 99.9),
        pass ? "PASS" : "FAIL");
  }

  /** Prints the SEARCH line: the search's verdict; a first failure of 0 means none was found. */
  static void printSearch(
      PrintStream out,
      String label,
      int lastPass,
      int firstFail,
      double percentile,
      double limitMillis) {
    out.printf(
        Locale.ROOT,
        "SEARCH label=%s max_sustainable=%d first_failure=%s percentile=%s"
            + " limit_ms=%.1f capped=%b%n",
        label,
        lastPass,
        firstFail == 0 ? "none" : firstFail,
        percentile,
        limitMillis,
        firstFail == 0);
  }

  private static void row(PrintStream out, String name, Histogram h) {
    out.printf(
        Locale.ROOT,
        "  %-30s %7d %8.3f %8.3f %8.3f %8.3f %8.3f%n",
        name,
        h.getTotalCount(),
        ms(h, 50),
        ms(h, 90),
        ms(h, 99),
        ms(h, 99.9),
        h.getMaxValue() / 1000.0);
  }

  private static double ms(Histogram h, double percentile) {
    return h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(percentile) / 1000.0;
  }
}

package dev.creditgate.ledger;

import dev.creditgate.BillingContext;
import dev.creditgate.Checks;
import dev.creditgate.InvalidArgumentException;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * What a {@link SpendSeries} is asked for: the entries recorded in {@code [from, to)}, of one
 * account or of all, summed per {@code width} bucket (UTC) and per group. The range is bounded per
 * width ({@link Width#maxBuckets()}), so no query asks for unbounded output; with {@code from} and
 * {@code to} off the buckets' boundaries the first and last buckets cover part of their width.
 *
 * @param accountId the account, or null for all accounts
 * @param from the first instant counted
 * @param to the first instant not counted
 * @param width the buckets' width
 * @param groupBy what the buckets are grouped by
 * @throws InvalidArgumentException naming the parameter when the query is not valid
 */
public record SpendQuery(String accountId, Instant from, Instant to, Width width, GroupBy groupBy) {

  /** The earliest {@code from}. */
  public static final Instant EARLIEST = Instant.EPOCH;

  /** The latest {@code to}: the end of year 9999. */
  public static final Instant LATEST = Instant.parse("9999-12-31T23:59:59.999999Z");

  /** A bucket's width; each bounds how many buckets a query may span. */
  public enum Width {
    MINUTE(Duration.ofMinutes(1), 1_440),
    HOUR(Duration.ofHours(1), 2_160),
    DAY(Duration.ofDays(1), 400);

    private final Duration duration;
    private final int maxBuckets;

    Width(Duration duration, int maxBuckets) {
      this.duration = duration;
      this.maxBuckets = maxBuckets;
    }

    public Duration duration() {
      return duration;
    }

    /** The most widths {@code to - from} may span: a day of minutes, 90 days of hours. */
    public int maxBuckets() {
      return maxBuckets;
    }

    /** The longest range a query of this width may ask for. */
    public Duration maxRange() {
      return duration.multipliedBy(maxBuckets);
    }

    /**
     * The width named {@code name} ("minute", "hour" or "day", any case).
     *
     * @throws InvalidArgumentException for {@code width} when it names none
     */
    public static Width parse(String name) {
      return SpendQuery.parse(Width.class, "width", name);
    }

    public String lowerCaseName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** What the buckets are grouped by. */
  public enum GroupBy {
    /** The {@code model} an entry records: the upstream's model the charge was priced on. */
    MODEL,
    /**
     * The model alias the call asked for, which a gateway records in the charge's metadata as
     * {@code alias}; "" for charges recorded without one.
     */
    ALIAS;

    /**
     * The grouping named {@code name} ("model" or "alias", any case).
     *
     * @throws InvalidArgumentException for {@code groupBy} when it names none
     */
    public static GroupBy parse(String name) {
      return SpendQuery.parse(GroupBy.class, "groupBy", name);
    }

    public String lowerCaseName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  public SpendQuery {
    if (accountId != null) {
      BillingContext.requireValidAccountId(accountId);
    }
    requireInstant("from", from);
    requireInstant("to", to);
    if (width == null) {
      throw unknown(Width.class, "width", null);
    }
    if (groupBy == null) {
      throw unknown(GroupBy.class, "groupBy", null);
    }
    if (!from.isBefore(to)) {
      throw new InvalidArgumentException(
          "from", "from must be before to, but was from " + from + ", to " + to);
    }
    if (Duration.between(from, to).compareTo(width.maxRange()) > 0) {
      throw new InvalidArgumentException(
          "from",
          "from and to may be at most "
              + width.maxBuckets()
              + " "
              + width.lowerCaseName()
              + "s apart ("
              + width.maxRange()
              + "), but were "
              + Duration.between(from, to));
    }
  }

  /** The query grouped by {@link GroupBy#MODEL}. */
  public SpendQuery(String accountId, Instant from, Instant to, Width width) {
    this(accountId, from, to, width, GroupBy.MODEL);
  }

  /** The constant of {@code type} named {@code name}, any case. */
  private static <E extends Enum<E>> E parse(Class<E> type, String param, String name) {
    for (E constant : type.getEnumConstants()) {
      if (name != null && constant.name().equalsIgnoreCase(name.strip())) {
        return constant;
      }
    }
    throw unknown(type, param, name);
  }

  private static <E extends Enum<E>> InvalidArgumentException unknown(
      Class<E> type, String param, String name) {
    StringJoiner names = new StringJoiner(", ");
    for (E constant : type.getEnumConstants()) {
      names.add(constant.name().toLowerCase(Locale.ROOT));
    }
    return new InvalidArgumentException(
        param,
        param
            + " must be one of "
            + names
            + ", but was "
            + (name == null ? "null" : "'" + Checks.abbreviate(name, 40) + "'"));
  }

  private static void requireInstant(String name, Instant value) {
    if (value == null || value.isBefore(EARLIEST) || value.isAfter(LATEST)) {
      throw new InvalidArgumentException(
          name, name + " must be between " + EARLIEST + " and " + LATEST + ", but was " + value);
    }
  }
}

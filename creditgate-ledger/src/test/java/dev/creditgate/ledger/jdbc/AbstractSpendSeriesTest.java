package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import dev.creditgate.InvalidArgumentException;
import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.SpendBucket;
import dev.creditgate.ledger.SpendQuery;
import dev.creditgate.ledger.SpendQuery.GroupBy;
import dev.creditgate.ledger.SpendQuery.Width;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The spend series' contract, run against every database the ledger supports. Each test records its
 * entries on days of its own (a settable clock far in the future), so the series of all accounts
 * over those days holds that test's entries and nothing else.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractSpendSeriesTest {

  /** Each test's ten days start here, ten days after the previous test's. */
  private static final Instant FIRST_DAY = Instant.parse("2200-01-01T00:00:00Z");

  private static final Usage SMALL = new Usage(1000, 500, 0, 0);
  private static final Usage LARGE = new Usage(100_000, 50_000, 0, 0);

  private final AtomicInteger tests = new AtomicInteger();

  String jdbcUrl;
  Path spoolRoot;
  JdbcCreditLedger ledger;
  SettableClock clock;

  /** The first instant of this test's days. */
  Instant day;

  String scene;

  abstract String createDatabase() throws Exception;

  abstract void dropDatabase() throws Exception;

  /**
   * The plan the database chooses for {@code sql} with its parameters bound from {@code query}, as
   * text; PostgreSQL's with sequential scans discouraged, since on a test-sized table a scan is
   * cheaper than any index.
   */
  abstract String plan(Connection c, String sql, SpendQuery query) throws Exception;

  @BeforeAll
  void setUpDatabase() throws Exception {
    spoolRoot = Files.createTempDirectory("creditgate-spend");
    jdbcUrl = createDatabase();
  }

  @AfterAll
  void tearDownDatabase() throws Exception {
    dropDatabase();
    SqliteCreditLedgerTest.deleteTree(spoolRoot);
  }

  @BeforeEach
  void openLedger() throws Exception {
    day = FIRST_DAY.plus(Duration.ofDays(10L * tests.getAndIncrement()));
    clock = new SettableClock(day);
    ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(jdbcUrl)
            .spoolDirectory(Files.createTempDirectory(spoolRoot, "spool"))
            .connectionTimeout(Duration.ofSeconds(2))
            .statementTimeout(Duration.ofSeconds(5))
            .clock(clock)
            .build();
    scene = "scene-" + UUID.randomUUID();
    ledger.createPriceRule(
        new PriceRule(0, scene, "", "", 3200, 16000, 800, 16000, 100, 0, 0, true));
  }

  @AfterEach
  void closeLedger() {
    ledger.close();
  }

  // ---------------------------------------------------------------- buckets

  @Test
  void anEntryAtABucketsFirstInstantIsInItAndToIsExclusive() {
    String account = funded();
    long atTen = chargeAt(account, "10:00:00", "m1", SMALL, "{}");
    long justBeforeEleven = chargeAt(account, "10:59:59.999999", "m1", SMALL, "{}");
    long atEleven = chargeAt(account, "11:00:00", "m1", LARGE, "{}");
    chargeAt(account, "11:30:00", "m1", SMALL, "{}");

    List<SpendBucket> series = ledger.spend(query(account, "10:00", "11:30", Width.HOUR));

    assertThat(series)
        .containsExactly(
            bucket("10:00", "m1", atTen + justBeforeEleven, 2, 2000, 1000),
            bucket("11:00", "m1", atEleven, 1, 100_000, 50_000));
    assertThat(ledger.spend(query(account, "10:00:00.000001", "11:00:00.000001", Width.HOUR)))
        .containsExactly(
            bucket("10:00", "m1", justBeforeEleven, 1, 1000, 500),
            bucket("11:00", "m1", atEleven, 1, 100_000, 50_000));
    assertThat(ledger.spend(query(account, "09:00", "10:00", Width.HOUR))).isEmpty();
  }

  @Test
  void minuteAndDayBucketsStartOnTheirBoundariesInUtc() {
    String account = funded();
    long a = chargeAt(account, "10:00:30", "m1", SMALL, "{}");
    long b = chargeAt(account, "10:01:00", "m1", SMALL, "{}");
    long c = chargeAt(account, "23:59:59.999999", "m1", LARGE, "{}");
    clock.advance(Duration.ofMinutes(1));
    long d = -ledger.charge(request(account, "m1", LARGE, "{}")).entry().amount();

    assertThat(ledger.spend(query(account, "10:00", "10:02", Width.MINUTE)))
        .containsExactly(
            bucket("10:00", "m1", a, 1, 1000, 500), bucket("10:01", "m1", b, 1, 1000, 500));
    List<SpendBucket> days =
        ledger.spend(new SpendQuery(account, day, day.plus(Duration.ofDays(2)), Width.DAY));
    assertThat(days)
        .extracting(SpendBucket::start)
        .containsExactly(day, day.plus(1, ChronoUnit.DAYS));
    assertThat(days.get(0).credits()).isEqualTo(a + b + c);
    assertThat(days.get(0).charges()).isEqualTo(3);
    assertThat(days.get(1).credits()).isEqualTo(d);
  }

  @Test
  void bucketsAreGroupedByModelOrByTheAliasInTheChargesMetadata() {
    String account = funded();
    long fast = chargeAt(account, "10:01", "gpt-a", SMALL, "{\"alias\":\"fast\"}");
    long fastToo = chargeAt(account, "10:02", "gpt-a", LARGE, "{\"alias\":\"cheap\"}");
    long smart = chargeAt(account, "10:03", "gpt-b", LARGE, "{\"alias\":\"fast\",\"n\":1}");
    long none = chargeAt(account, "10:04", "gpt-b", SMALL, "{}");

    assertThat(ledger.spend(query(account, "10:00", "11:00", Width.HOUR)))
        .containsExactly(
            bucket("10:00", "gpt-a", fast + fastToo, 2, 101_000, 50_500),
            bucket("10:00", "gpt-b", smart + none, 2, 101_000, 50_500));
    assertThat(
            ledger.spend(
                new SpendQuery(account, at("10:00"), at("11:00"), Width.HOUR, GroupBy.ALIAS)))
        .containsExactly(
            bucket("10:00", "", none, 1, 1000, 500),
            bucket("10:00", "cheap", fastToo, 1, 100_000, 50_000),
            bucket("10:00", "fast", fast + smart, 2, 101_000, 50_500));
  }

  @Test
  void oneAccountsSeriesLeavesOthersOutAndTheSeriesOfAllSumsThem() {
    String mine = funded();
    String other = funded();
    long own = chargeAt(mine, "10:10", "m1", SMALL, "{}");
    long theirs = chargeAt(other, "10:20", "m1", LARGE, "{}");
    long theirsLater = chargeAt(other, "12:00", "m2", SMALL, "{}");

    assertThat(ledger.spend(query(mine, "00:00", "23:00", Width.HOUR)))
        .containsExactly(bucket("10:00", "m1", own, 1, 1000, 500));
    assertThat(ledger.spend(query(null, "00:00", "23:00", Width.HOUR)))
        .containsExactly(
            bucket("10:00", "m1", own + theirs, 2, 101_000, 50_500),
            bucket("12:00", "m2", theirsLater, 1, 1000, 500));
    assertThat(ledger.spend(query("nobody-" + UUID.randomUUID(), "00:00", "23:00", Width.HOUR)))
        .isEmpty();
  }

  @Test
  void aRefundCountsAgainstItsChargesGroupInTheBucketItWasMadeIn() {
    String account = funded();
    long charged = chargeAt(account, "10:05", "m1", LARGE, "{\"alias\":\"pro\"}");
    long second = chargeAt(account, "10:06", "m2", SMALL, "{\"alias\":\"mini\"}");
    clock.advance(Duration.ofMinutes(1));
    ledger.refund(account, eventOf("10:06"), 1, "r-same-hour", "ops", "partial");
    setTime("11:10");
    ledger.refund(account, eventOf("10:05"), 5, "r-next-hour", "ops", "partial");

    assertThat(ledger.spend(query(account, "10:00", "12:00", Width.HOUR)))
        .containsExactly(
            bucket("10:00", "m1", charged, 1, 100_000, 50_000),
            new SpendBucket(at("10:00"), "m2", second - 1, 1, 1, 1000, 500),
            new SpendBucket(at("11:00"), "m1", -5, 5, 0, 0, 0));
    assertThat(
            ledger.spend(
                new SpendQuery(account, at("10:00"), at("12:00"), Width.HOUR, GroupBy.ALIAS)))
        .extracting(SpendBucket::group, SpendBucket::credits)
        .containsExactly(tuple("mini", second - 1), tuple("pro", charged), tuple("pro", -5L));
    assertThat(ledger.spend(query(null, "11:00", "12:00", Width.HOUR)))
        .containsExactly(new SpendBucket(at("11:00"), "m1", -5, 5, 0, 0, 0));
  }

  @Test
  void grantsAdjustmentsAndBlocksAreNotSpending() {
    String account = funded();
    setTime("10:10");
    ledger.grant(account, 700, "g-more", "ops", "top-up");
    ledger.adjust(account, -40, "adj", "ops", "correction");
    ledger.block(account, "b", "ops", "abuse");
    ledger.unblock(account, "u", "ops", "ok");

    assertThat(ledger.spend(query(null, "00:00", "23:00", Width.HOUR))).isEmpty();

    long charged = chargeAt(account, "10:20", "m1", SMALL, "{}");
    assertThat(ledger.spend(query(account, "00:00", "23:00", Width.DAY)))
        .containsExactly(new SpendBucket(day, "m1", charged, 0, 1, 1000, 500));
  }

  @Test
  void aSumBeyondALongIsAnArithmeticExceptionNotAWrappedValue() throws Exception {
    String account = funded();
    try (Connection c = ledger.dataSource().getConnection();
        PreparedStatement s =
            c.prepareStatement(
                "INSERT INTO entries (account_id, event_id, kind, amount, balance_after, model,"
                    + " created_at) VALUES (?, ?, 'CHARGE', ?, 0, 'm1', ?)")) {
      // Written past the ledger's checks: five charges of a quarter of the largest long each.
      for (int i = 0; i < 5; i++) {
        s.setString(1, account);
        s.setString(2, "huge-" + i);
        s.setLong(3, -(Long.MAX_VALUE / 4));
        ledger.dialect().setInstant(s, 4, at("10:00"));
        s.addBatch();
      }
      s.executeBatch();
    }

    assertThatThrownBy(() -> ledger.spend(query(account, "10:00", "11:00", Width.HOUR)))
        .isInstanceOf(ArithmeticException.class);
    assertThat(ledger.spend(query(account, "11:00", "12:00", Width.HOUR))).isEmpty();
  }

  // ---------------------------------------------------------------- arguments

  @Test
  void anEmptyOrInvertedRangeIsRefusedNamingFrom() {
    assertInvalid(() -> query(null, "10:00", "10:00", Width.HOUR), "from");
    assertInvalid(() -> query(null, "11:00", "10:00", Width.HOUR), "from");
    assertInvalid(() -> new SpendQuery(null, null, at("10:00"), Width.HOUR), "from");
    assertInvalid(() -> new SpendQuery(null, at("10:00"), null, Width.HOUR), "to");
    assertInvalid(
        () -> new SpendQuery(null, Instant.EPOCH.minusSeconds(1), at("10:00"), Width.DAY), "from");
    assertInvalid(
        () -> new SpendQuery(null, at("10:00"), Instant.parse("+10000-01-01T00:00:00Z"), Width.DAY),
        "to");
  }

  @Test
  void aRangeOfTooManyBucketsIsRefusedAndTheLargestIsServed() {
    for (Width width : Width.values()) {
      Instant to = day.plus(width.maxRange());
      assertThat(ledger.spend(new SpendQuery(null, day, to, width))).isEmpty();
      assertInvalid(() -> new SpendQuery(null, day, to.plusNanos(1000), width), "from");
    }
    assertThat(Width.MINUTE.maxBuckets()).isEqualTo(1_440);
    assertThat(Width.HOUR.maxRange()).isEqualTo(Duration.ofDays(90));
    assertThat(Width.DAY.maxBuckets()).isEqualTo(400);
  }

  @Test
  void anUnknownWidthGroupingOrAccountIdIsRefusedNamingIt() {
    assertInvalid(() -> Width.parse("week"), "width");
    assertInvalid(() -> Width.parse(null), "width");
    assertInvalid(() -> new SpendQuery(null, at("10:00"), at("11:00"), null), "width");
    assertInvalid(() -> GroupBy.parse("scene"), "groupBy");
    assertInvalid(
        () -> new SpendQuery(null, at("10:00"), at("11:00"), Width.HOUR, null), "groupBy");
    assertInvalid(() -> query("no spaces", "10:00", "11:00", Width.HOUR), "accountId");
    assertInvalid(() -> query("", "10:00", "11:00", Width.HOUR), "accountId");
    assertThat(Width.parse(" Hour ")).isEqualTo(Width.HOUR);
    assertThat(GroupBy.parse("ALIAS")).isEqualTo(GroupBy.ALIAS);
  }

  // ---------------------------------------------------------------- the index

  @Test
  void theStatementUsesTheSpendIndexes() throws Exception {
    // Over the days PostgreSQL's plan() fills: of 5,000 charges, the month holds all, the hour 60.
    Instant start = Instant.parse("1990-01-01T00:00:00Z");
    SpendQuery one = new SpendQuery("plan-7", start, start.plus(Duration.ofDays(30)), Width.HOUR);
    SpendQuery all =
        new SpendQuery(
            null, start.plus(Duration.ofHours(30)), start.plus(Duration.ofHours(31)), Width.MINUTE);
    try (Connection c = ledger.dataSource().getConnection()) {
      assertThat(plan(c, SpendBuckets.sql(ledger.dialect(), one), one))
          .contains("entries_spend_account")
          .doesNotContain("entries_spend_time");
      assertThat(plan(c, SpendBuckets.sql(ledger.dialect(), all), all))
          .contains("entries_spend_time")
          .doesNotContain("entries_spend_account");
    }
  }

  // ---------------------------------------------------------------- helpers

  private static void assertInvalid(Runnable call, String parameter) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            InvalidArgumentException.class, e -> assertThat(e.parameter()).isEqualTo(parameter))
        .hasMessageContaining(parameter);
  }

  private String funded() {
    String account = "acct-" + UUID.randomUUID();
    ledger.grant(account, 1_000_000, "seed", "test", "seed");
    return account;
  }

  /** This test's first day at {@code time} ("10:00", "10:00:30", "10:59:59.999999"). */
  Instant at(String time) {
    String full = time.length() == 5 ? time + ":00" : time;
    return Instant.parse(day.toString().substring(0, 11) + full + "Z");
  }

  private void setTime(String time) {
    clock.advance(Duration.between(clock.instant(), at(time)));
  }

  SpendQuery query(String account, String from, String to, Width width) {
    return new SpendQuery(account, at(from), at(to), width);
  }

  private ChargeRequest request(String account, String model, Usage usage, String metadata) {
    String event = "c-" + clock.instant();
    return new ChargeRequest(
        account, event, "req-" + event, scene, "openai", model, usage, false, metadata);
  }

  /** The event id of the charge {@link #chargeAt} made at {@code time}. */
  private String eventOf(String time) {
    return "c-" + at(time);
  }

  /** Charges at {@code time}; returns the credits charged. */
  private long chargeAt(String account, String time, String model, Usage usage, String metadata) {
    setTime(time);
    ChargeResult result = ledger.charge(request(account, model, usage, metadata));
    assertThat(result.status()).isEqualTo(ChargeResult.Status.APPLIED);
    LedgerEntry entry = result.entry();
    assertThat(entry.createdAt()).isEqualTo(at(time));
    return -entry.amount();
  }

  /** A bucket without refunds. */
  private SpendBucket bucket(
      String start, String group, long credits, long charges, long input, long output) {
    return new SpendBucket(at(start), group, credits, 0, charges, input, output);
  }

  void bind(PreparedStatement s, SpendQuery query) throws Exception {
    SpendBuckets.bind(ledger.dialect(), s, query);
  }

  static List<String> lines(ResultSet rows, int column) throws Exception {
    List<String> lines = new ArrayList<>();
    while (rows.next()) {
      lines.add(rows.getString(column));
    }
    return lines;
  }

  static void execute(Connection c, String sql) throws Exception {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}

package dev.creditgate.bench.ledger;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.SpendBucket;
import dev.creditgate.ledger.SpendQuery;
import dev.creditgate.ledger.SpendQuery.GroupBy;
import dev.creditgate.ledger.SpendQuery.Width;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.ledger.jdbc.SpendPlans;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * The spend series on PostgreSQL over a month of entries for 10,000 accounts, with the V6 indexes
 * and, as the baseline in the same run, without them.
 *
 * <p>Seeds a schema of its own with {@code INSERT ... SELECT generate_series}: the accounts, one
 * grant each, {@code charges} charges spread evenly over the 30 days before now (in time order, as
 * a ledger writes them; every tenth of one heavy account, the rest spread over the other 9,999) and
 * a refund of every 100th charge five minutes after it. The entries' secondary indexes are dropped
 * for the load and built afterwards (each build timed). Then each query runs {@code reps} times
 * after a warm-up, through {@link JdbcCreditLedger#spend}, with its {@code EXPLAIN (ANALYZE,
 * BUFFERS)} plan; the V6 indexes are dropped and the same queries run again. Last, a bulk insert
 * with and without the V6 indexes, alternated, shows what they cost a write. The schema is dropped
 * at the end, also on failure.
 *
 * <p>{@code java -cp creditgate-bench/target/benchmarks.jar
 * dev.creditgate.bench.ledger.SpendSeriesBenchmark [charges: 3000000] [reps: 50]}
 */
public final class SpendSeriesBenchmark {

  static final int ACCOUNTS = 10_000;
  static final Duration MONTH = Duration.ofDays(30);

  /** The account of every tenth charge: a big tenant, whose history dwarfs the others'. */
  static final String HEAVY = "acct-00000";

  static final int WRITERS = 8;
  static final int CHARGE_SECONDS = 5;
  static final Usage USAGE = new Usage(1000, 500, 0, 0);

  static final List<String> V6_INDEXES = List.of("entries_spend_account", "entries_spend_time");

  private final String url;
  private final int charges;
  private final int reps;
  private final Instant now = Instant.now().truncatedTo(ChronoUnit.MINUTES);

  private SpendSeriesBenchmark(String url, int charges, int reps) {
    this.url = url;
    this.charges = charges;
    this.reps = reps;
  }

  public static void main(String[] args) throws Exception {
    int charges = args.length > 0 ? Integer.parseInt(args[0]) : 3_000_000;
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 50;
    String base =
        System.getenv()
            .getOrDefault(
                "CREDITGATE_POSTGRES_URL", "jdbc:postgresql://127.0.0.1:5432/test?user=postgres");
    String schema = "cg_spendbench_" + UUID.randomUUID().toString().substring(0, 8);
    execute(base, "CREATE SCHEMA " + schema);
    try {
      String url = base + (base.contains("?") ? "&" : "?") + "currentSchema=" + schema;
      new SpendSeriesBenchmark(url, charges, reps).run();
    } finally {
      execute(base, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
      System.out.println("dropped schema " + schema);
    }
  }

  private void run() throws Exception {
    System.out.printf(
        Locale.ROOT,
        "start %s, load average %s, %d accounts, %d charges over %s before %s, %d reps%n",
        Instant.now(),
        loadAverage(),
        ACCOUNTS,
        charges,
        MONTH,
        now,
        reps);
    Path spool = Files.createTempDirectory("creditgate-spendbench");
    // Built (and the schema migrated) before the load; it reads nothing until measured.
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(url)
            .spoolDirectory(spool)
            .statementTimeout(Duration.ofSeconds(120))
            .build()) {
      seed();
      Map<String, IntFunction<SpendQuery>> queries = queries();
      System.out.println("\n== with the V6 indexes");
      measure(ledger, queries);
      try (Connection c = DriverManager.getConnection(url)) {
        for (String index : V6_INDEXES) {
          execute(c, "DROP INDEX " + index);
        }
        execute(c, "ANALYZE entries");
      }
      System.out.println("\n== baseline: without the V6 indexes");
      measure(ledger, queries);
      writeCost(ledger);
    }
    System.out.printf(Locale.ROOT, "%nend %s, load average %s%n", Instant.now(), loadAverage());
  }

  /**
   * The queries, each for the repetition's number: one account's series (a different account each
   * time), or all accounts'.
   */
  private Map<String, IntFunction<SpendQuery>> queries() {
    Map<String, IntFunction<SpendQuery>> q = new LinkedHashMap<>();
    Instant monthAgo = now.minus(MONTH);
    Instant hourAgo = now.minus(Duration.ofHours(1));
    Instant dayAgo = now.minus(Duration.ofDays(1));
    q.put(
        "one account, hourly, 30 days, by model",
        i -> new SpendQuery(account(i), monthAgo, now, Width.HOUR));
    q.put(
        "one account, hourly, 30 days, by alias",
        i -> new SpendQuery(account(i), monthAgo, now, Width.HOUR, GroupBy.ALIAS));
    q.put(
        "one account, hourly, last 24 h, by model",
        i -> new SpendQuery(account(i), dayAgo, now, Width.HOUR));
    q.put(
        "heavy account, hourly, 30 days, by model",
        i -> new SpendQuery(HEAVY, monthAgo, now, Width.HOUR));
    q.put(
        "heavy account, hourly, last 24 h, by model",
        i -> new SpendQuery(HEAVY, dayAgo, now, Width.HOUR));
    q.put(
        "all accounts, per minute, last hour, by model",
        i -> new SpendQuery(null, hourAgo, now, Width.MINUTE));
    q.put(
        "all accounts, per minute, last hour, by alias",
        i -> new SpendQuery(null, hourAgo, now, Width.MINUTE, GroupBy.ALIAS));
    q.put(
        "all accounts, daily, 30 days, by model",
        i -> new SpendQuery(null, monthAgo, now, Width.DAY));
    return q;
  }

  /** One of the 9,999 ordinary accounts, a different one for each {@code i} up to 9,999. */
  private static String account(int i) {
    return String.format(Locale.ROOT, "acct-%05d", 1 + (i * 7_919L) % (ACCOUNTS - 1));
  }

  private void measure(JdbcCreditLedger ledger, Map<String, IntFunction<SpendQuery>> queries)
      throws SQLException {
    System.out.printf(
        Locale.ROOT,
        "%-48s | %9s | %9s | %9s | %7s | %s%n",
        "query",
        "p50 ms",
        "p99 ms",
        "max ms",
        "buckets",
        "charges counted (first run)");
    Map<String, List<String>> plans = new LinkedHashMap<>();
    for (Map.Entry<String, IntFunction<SpendQuery>> query : queries.entrySet()) {
      for (int i = 0; i < 5; i++) {
        ledger.spend(query.getValue().apply(1_000 + i));
      }
      double[] millis = new double[reps];
      long buckets = 0;
      long counted = 0;
      for (int i = 0; i < reps; i++) {
        SpendQuery q = query.getValue().apply(i);
        long start = System.nanoTime();
        List<SpendBucket> series = ledger.spend(q);
        millis[i] = (System.nanoTime() - start) / 1e6;
        if (i == 0) {
          buckets = series.size();
          counted = series.stream().mapToLong(SpendBucket::charges).sum();
        }
      }
      Arrays.sort(millis);
      System.out.printf(
          Locale.ROOT,
          "%-48s | %9.2f | %9.2f | %9.2f | %7d | %d%n",
          query.getKey(),
          percentile(millis, 50),
          percentile(millis, 99),
          millis[millis.length - 1],
          buckets,
          counted);
      plans.put(query.getKey(), SpendPlans.explainAnalyze(ledger, query.getValue().apply(0)));
    }
    for (Map.Entry<String, List<String>> plan : plans.entrySet()) {
      System.out.println("\n-- EXPLAIN (ANALYZE, BUFFERS): " + plan.getKey());
      plan.getValue().forEach(line -> System.out.println("   " + line));
    }
  }

  /** Nearest rank: the smallest value with at least {@code p} percent of the values at or below. */
  static double percentile(double[] sorted, int p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, rank - 1)];
  }

  /**
   * Loads the entries with their secondary indexes dropped (foreign keys unchecked for the load
   * only), then builds the indexes and analyzes, timing each step.
   */
  private void seed() throws SQLException {
    long stepMicros = MONTH.toNanos() / 1000 / charges;
    String start = "TIMESTAMPTZ '" + now.minus(MONTH) + "'";
    try (Connection c = DriverManager.getConnection(url)) {
      List<String> indexes = new ArrayList<>();
      try (Statement s = c.createStatement();
          ResultSet rows =
              s.executeQuery(
                  "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                      + " AND tablename = 'entries' AND indexname NOT IN"
                      + " ('entries_pkey', 'entries_event_unique') ORDER BY indexname")) {
        while (rows.next()) {
          indexes.add(rows.getString(2));
          execute(c, "DROP INDEX " + rows.getString(1));
        }
      }
      execute(c, "SET session_replication_role = replica");
      timed(
          c,
          "accounts",
          "INSERT INTO accounts (id, created_at, updated_at) SELECT"
              + " 'acct-' || lpad(g::text, 5, '0'), now(), now() FROM generate_series(0, "
              + (ACCOUNTS - 1)
              + ") g");
      timed(
          c,
          "grants",
          "INSERT INTO entries (account_id, event_id, kind, amount, balance_after, created_at)"
              + " SELECT id, 'g-' || id, 'GRANT', 1000000, 1000000, "
              + start
              + " - INTERVAL '1 day' FROM accounts");
      timed(
          c,
          "charges",
          "INSERT INTO entries (account_id, event_id, kind, amount, balance_after, provider, model,"
              + " input_tokens, output_tokens, metadata, created_at) SELECT CASE WHEN g % 10 = 0"
              + " THEN '"
              + HEAVY
              + "' ELSE 'acct-' || lpad((1 + g % "
              + (ACCOUNTS - 1)
              + ")::text, 5, '0') END, 'c-' || g, 'CHARGE', -(1 + (g * 7919) % 100), 0, 'openai',"
              + " (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-70b'])[1 + (g / 7) % 4],"
              + " 100 + g % 2000, 50 + g % 500,"
              + " '{\"alias\":\"' || (ARRAY['pro', 'mini', 'claude', 'llama', 'fast'])[1 + g % 5]"
              + " || '\"}', "
              + start
              + " + (g * "
              + stepMicros
              + ") * INTERVAL '1 microsecond' FROM generate_series(0::bigint, "
              + (charges - 1)
              + ") g");
      timed(
          c,
          "refunds",
          "INSERT INTO entries (account_id, event_id, kind, amount, balance_after, ref_event_id,"
              + " created_at) SELECT account_id, 'r-' || event_id, 'REFUND', 1, 0, event_id,"
              + " created_at + INTERVAL '5 minutes' FROM entries WHERE kind = 'CHARGE'"
              + " AND id % 100 = 0 AND created_at < "
              + "TIMESTAMPTZ '"
              + now.minus(Duration.ofMinutes(5))
              + "'");
      execute(c, "SET session_replication_role = origin");
      for (String index : indexes) {
        timed(c, "build " + index.replaceFirst(" ON .*", ""), index);
      }
      timed(c, "vacuum analyze", "VACUUM ANALYZE entries");
      try (Statement s = c.createStatement();
          ResultSet rows =
              s.executeQuery(
                  "SELECT count(*), pg_size_pretty(pg_table_size('entries')),"
                      + " pg_size_pretty(pg_relation_size('entries_spend_account')),"
                      + " pg_size_pretty(pg_relation_size('entries_spend_time')) FROM entries")) {
        rows.next();
        System.out.printf(
            Locale.ROOT,
            "entries: %d rows, table %s, entries_spend_account %s, entries_spend_time %s%n",
            rows.getLong(1),
            rows.getString(2),
            rows.getString(3),
            rows.getString(4));
      }
    }
  }

  /**
   * What the V6 indexes cost the writes, without them and with them, alternated three times each
   * after a round to warm up: bulk inserts of a day's worth of charges ({@code charges / 30} rows
   * in one {@code INSERT ... SELECT}), then the ledger's own charges ({@link
   * JdbcCreditLedger#charge}, group commit, {@value #WRITERS} writers on random accounts for
   * {@value #CHARGE_SECONDS} s).
   */
  private void writeCost(JdbcCreditLedger ledger) throws Exception {
    int batch = Math.max(1, charges / 30);
    System.out.printf(Locale.ROOT, "%n== write cost: %d charges per INSERT ... SELECT%n", batch);
    alternate(
        "rows/s",
        round -> {
          try (Connection c = DriverManager.getConnection(url)) {
            execute(
                c,
                "INSERT INTO entries (account_id, event_id, kind, amount, balance_after, model,"
                    + " created_at) SELECT 'acct-' || lpad((g % "
                    + ACCOUNTS
                    + ")::text, 5, '0'), 'w"
                    + round
                    + "-' || g, 'CHARGE', -1, 0, 'gpt-4o', now() + g * INTERVAL '1 millisecond'"
                    + " FROM generate_series(0, "
                    + (batch - 1)
                    + ") g");
          }
          return batch;
        });
    ledger.createPriceRule(new PriceRule(0, "", "", "", 3200, 16000, 800, 16000, 100, 0, 0, true));
    System.out.printf(
        Locale.ROOT,
        "%n== write cost: ledger charges, %d writers, %d s per round%n",
        WRITERS,
        CHARGE_SECONDS);
    alternate("charges/s", round -> charge(ledger));
  }

  /** A write workload of the {@code round}th round; returns how many rows it wrote. */
  @FunctionalInterface
  private interface Writes {
    long run(int round) throws Exception;
  }

  private void alternate(String unit, Writes writes) throws Exception {
    String[] creates = {
      "CREATE INDEX entries_spend_account ON entries (account_id, kind, created_at)",
      "CREATE INDEX entries_spend_time ON entries (kind, created_at)"
    };
    try (Connection c = DriverManager.getConnection(url)) {
      // Rounds unmeasured first: the first rounds of a run were the slowest whatever the indexes.
      for (int warmUp = 0; warmUp < 2; warmUp++) {
        writes.run(-1 - warmUp);
      }
      for (int round = 1; round <= 6; round++) {
        boolean indexed = round % 2 == 0;
        if (indexed) {
          for (String create : creates) {
            execute(c, create);
          }
        }
        long start = System.nanoTime();
        long rows = writes.run(round);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(
            Locale.ROOT,
            "round %d, %-22s: %,9d in %6.2f s, %,8.0f %s%n",
            round,
            indexed ? "with the V6 indexes" : "without them",
            rows,
            seconds,
            rows / seconds,
            unit);
        if (indexed) {
          for (String index : V6_INDEXES) {
            execute(c, "DROP INDEX " + index);
          }
        }
      }
    }
  }

  /** Charges through the ledger from {@link #WRITERS} threads; returns those applied. */
  private static long charge(JdbcCreditLedger ledger) throws InterruptedException {
    AtomicLong applied = new AtomicLong();
    long end = System.nanoTime() + CHARGE_SECONDS * 1_000_000_000L;
    List<Thread> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      writers.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    while (System.nanoTime() < end) {
                      ChargeRequest request =
                          new ChargeRequest(
                              account(random.nextInt(ACCOUNTS - 1)),
                              "bench-" + UUID.randomUUID(),
                              "",
                              "",
                              "openai",
                              "gpt-4o",
                              USAGE,
                              false,
                              "{\"alias\":\"pro\"}");
                      if (ledger.charge(request).status() == ChargeResult.Status.APPLIED) {
                        applied.incrementAndGet();
                      }
                    }
                  }));
    }
    for (Thread writer : writers) {
      writer.join();
    }
    return applied.get();
  }

  private static void timed(Connection c, String what, String sql) throws SQLException {
    long start = System.nanoTime();
    execute(c, sql);
    System.out.printf(Locale.ROOT, "%-40s %8.1f s%n", what, (System.nanoTime() - start) / 1e9);
  }

  private static void execute(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private static void execute(String url, String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(url)) {
      execute(c, sql);
    }
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).strip();
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }
}

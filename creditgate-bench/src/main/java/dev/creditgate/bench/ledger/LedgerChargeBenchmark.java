package dev.creditgate.bench.ledger;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.ledger.ChargeResult;
import dev.creditgate.ledger.jdbc.Dialect;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.ledger.jdbc.LedgerOptions;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;

/**
 * Ledger charges per second against a bare balance update through the same pool, on PostgreSQL and
 * SQLite, with 1, 8 and 64 concurrent writers spread over 10,000 accounts.
 *
 * <p>Each cell runs the baseline ({@code UPDATE accounts SET balance = balance - ? WHERE id = ?},
 * one autocommit statement per operation, a pooled connection per operation) and then ledger
 * charges (priced, idempotent, one transaction with a row lock, an entry insert and a cache update)
 * for the same time, after a warm-up, and prints the ratio.
 *
 * <p>{@code java -cp creditgate-bench/target/benchmarks.jar
 * dev.creditgate.bench.ledger.LedgerChargeBenchmark [seconds per measurement] [dialects:
 * postgresql,sqlite] [writers: 1,8,64] [rounds: 3] [chargeBatchSize: 64]}
 */
public final class LedgerChargeBenchmark {

  static final int ACCOUNTS = 10_000;
  static final Usage USAGE = new Usage(1000, 500, 200, 100);

  public static void main(String[] args) throws Exception {
    double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
    String dialects = args.length > 1 ? args[1] : "postgresql,sqlite";
    String writerList = args.length > 2 ? args[2] : "1,8,64";
    String postgresUrl =
        System.getenv()
            .getOrDefault(
                "CREDITGATE_POSTGRES_URL", "jdbc:postgresql://127.0.0.1:5432/test?user=postgres");
    long measureMillis = (long) (seconds * 1000);
    long warmupMillis = Math.max(500, measureMillis / 3);

    int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
    int batchSize =
        args.length > 4 ? Integer.parseInt(args[4]) : LedgerOptions.DEFAULT_CHARGE_BATCH_SIZE;
    System.out.printf(
        Locale.ROOT,
        "chargeBatchSize %d, %.1f s per measurement, %d rounds%n",
        batchSize,
        seconds,
        rounds);
    System.out.printf(
        Locale.ROOT,
        "%-10s | %7s | %14s | %14s | %5s | %s | %s%n",
        "database",
        "writers",
        "baseline ops/s",
        "charges/s",
        "median ratio",
        "ratio per round",
        "errors (baseline/ledger)");
    for (String dialectName : dialects.split(",")) {
      Dialect dialect = Dialect.valueOf(dialectName.trim().toUpperCase(Locale.ROOT));
      Path temp = Files.createTempDirectory("creditgate-bench");
      String schema = "cg_bench_" + UUID.randomUUID().toString().substring(0, 8);
      String url =
          dialect == Dialect.SQLITE
              ? "jdbc:sqlite:" + temp.resolve("bench.db")
              : postgresUrl + (postgresUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema;
      if (dialect == Dialect.POSTGRESQL) {
        execute(postgresUrl, "CREATE SCHEMA " + schema);
      }
      try (JdbcCreditLedger ledger =
          JdbcCreditLedger.builder()
              .jdbcUrl(url)
              .spoolDirectory(temp.resolve("spool"))
              .poolSize(16)
              .chargeBatchSize(batchSize)
              .build()) {
        ledger.createPriceRule(
            new PriceRule(0, "bench", "", "", 3200, 16000, 800, 16000, 100, 0, 0, true));
        openAccounts(ledger.dataSource(), dialect);
        for (String w : writerList.split(",")) {
          int writers = Integer.parseInt(w.trim());
          AtomicLong sequence = new AtomicLong();
          run(writers, warmupMillis, () -> baseline(ledger.dataSource()));
          run(writers, warmupMillis, () -> charge(ledger, sequence));
          // Alternate baseline and ledger so that a noisy neighbour hits both alike; report the
          // median ratio.
          List<Double> ratios = new ArrayList<>();
          long baseOps = 0;
          long baseNanos = 0;
          long chargeOps = 0;
          long chargeNanos = 0;
          long baseErrors = 0;
          long chargeErrors = 0;
          for (int round = 0; round < rounds; round++) {
            Result base = run(writers, measureMillis, () -> baseline(ledger.dataSource()));
            Result charges = run(writers, measureMillis, () -> charge(ledger, sequence));
            ratios.add(charges.perSecond() / base.perSecond());
            baseOps += base.operations();
            baseNanos += base.nanos();
            chargeOps += charges.operations();
            chargeNanos += charges.nanos();
            baseErrors += base.errors();
            chargeErrors += charges.errors();
          }
          if (ledger.stats().spoolPending() > 0) {
            throw new IllegalStateException(
                "charges were spooled during the benchmark; the numbers would lie");
          }
          ratios.sort(null);
          System.out.printf(
              Locale.ROOT,
              "%-10s | %7d | %14.0f | %14.0f | %5.2f | %s | %d/%d%n",
              dialect,
              writers,
              baseOps * 1e9 / baseNanos,
              chargeOps * 1e9 / chargeNanos,
              ratios.get(ratios.size() / 2),
              ratios.stream().map(r -> String.format(Locale.ROOT, "%.2f", r)).toList(),
              baseErrors,
              chargeErrors);
        }
      } finally {
        if (dialect == Dialect.POSTGRESQL) {
          execute(postgresUrl, "DROP SCHEMA " + schema + " CASCADE");
        }
      }
    }
  }

  @FunctionalInterface
  interface Operation {
    void run() throws Exception;
  }

  record Result(long operations, long errors, long nanos) {
    double perSecond() {
      return operations * 1e9 / nanos;
    }
  }

  static Result run(int writers, long millis, Operation operation) throws InterruptedException {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong done = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < writers; i++) {
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      start.await();
                    } catch (InterruptedException e) {
                      return;
                    }
                    while (!stop.get()) {
                      try {
                        operation.run();
                        done.incrementAndGet();
                      } catch (Exception e) {
                        if (errors.incrementAndGet() == 1) {
                          System.err.println("first error: " + e);
                        }
                      }
                    }
                  }));
    }
    long begin = System.nanoTime();
    start.countDown();
    Thread.sleep(millis);
    stop.set(true);
    long countedAt = System.nanoTime();
    long counted = done.get();
    for (Thread thread : threads) {
      thread.join();
    }
    return new Result(counted, errors.get(), countedAt - begin);
  }

  static String account(int n) {
    return "bench-" + n;
  }

  static void baseline(DataSource dataSource) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement s =
            c.prepareStatement("UPDATE accounts SET balance = balance - ? WHERE id = ?")) {
      s.setQueryTimeout(5);
      s.setLong(1, 2);
      s.setString(2, account(ThreadLocalRandom.current().nextInt(ACCOUNTS)));
      s.executeUpdate();
    }
  }

  static void charge(JdbcCreditLedger ledger, AtomicLong sequence) {
    String account = account(ThreadLocalRandom.current().nextInt(ACCOUNTS));
    ChargeResult result =
        ledger.charge(
            new ChargeRequest(
                account,
                "e" + sequence.incrementAndGet(),
                "",
                "bench",
                "openai",
                "gpt",
                USAGE,
                false,
                "{}"));
    // REPLAYED is a charge whose commit acknowledgement was lost and that was found applied on
    // retry.
    if (result.status() == ChargeResult.Status.SPOOLED) {
      throw new IllegalStateException("charge " + result.status());
    }
  }

  /** Opens the accounts in one transaction (rows as {@code openAccount} makes them). */
  static void openAccounts(DataSource dataSource, Dialect dialect) throws SQLException {
    String now = dialect == Dialect.SQLITE ? "0" : "now()";
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement s =
          c.prepareStatement(
              "INSERT INTO accounts (id, balance, blocked, version, granted, "
                  + "consumed, refunded, created_at, updated_at) VALUES (?, 0, ?, 0, 0, 0, 0, "
                  + now
                  + ", "
                  + now
                  + ")")) {
        for (int i = 0; i < ACCOUNTS; i++) {
          s.setString(1, account(i));
          s.setBoolean(2, false);
          s.addBatch();
        }
        s.executeBatch();
      }
      c.commit();
      c.setAutoCommit(true);
    }
  }

  static void execute(String url, String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(url);
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private LedgerChargeBenchmark() {}
}

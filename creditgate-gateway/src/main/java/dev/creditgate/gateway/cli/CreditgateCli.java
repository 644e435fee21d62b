package dev.creditgate.gateway.cli;

import dev.creditgate.gateway.AdminTokenStore;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.ApiKeyStore;
import dev.creditgate.gateway.ConfigException;
import dev.creditgate.gateway.GatewayConfig;
import dev.creditgate.gateway.GatewayServer;
import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.LedgerCommitListener;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.sim.SimulatedUpstream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The {@code creditgate} command: {@code serve}, {@code demo}, {@code account ...}, {@code key
 * ...}, {@code admin-tokens ...}, {@code holds ...}, {@code migrate}, {@code sim}. Exit codes: 0
 * success, 1 failure (the gateway unreachable or refusing too), 2 bad usage or bad configuration.
 */
@Command(
    name = "creditgate",
    mixinStandardHelpOptions = true,
    version = "creditgate 0.1.0",
    description = "Credit admission and metering gateway for LLM calls (OpenAI-compatible).",
    subcommands = {
      CreditgateCli.Serve.class,
      Demo.class,
      CreditgateCli.AccountCmd.class,
      CreditgateCli.KeyCmd.class,
      AdminTokensCmd.class,
      HoldsCmd.class,
      CreditgateCli.Migrate.class,
      CreditgateCli.Sim.class
    })
public final class CreditgateCli implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code (for tests and {@link #main}). */
  public static int run(String... args) {
    CommandLine cli = new CommandLine(new CreditgateCli());
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          PrintWriter err = commandLine.getErr();
          if (e instanceof ConfigException) {
            err.println("configuration error: " + e.getMessage());
            return 2;
          }
          if (e instanceof GatewayUnreachableException || e instanceof AdminApiException) {
            err.println("error: " + e.getMessage());
            return 1;
          }
          if (e instanceof IllegalArgumentException) {
            err.println("error: " + e.getMessage());
            return 2;
          }
          err.println(
              "error: "
                  + e.getClass().getSimpleName()
                  + (e.getMessage() == null ? "" : ": " + e.getMessage()));
          return 1;
        });
    return cli.execute(args);
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Where to read the configuration from: {@code --config}, else ./creditgate.yaml if present. */
  static GatewayConfig loadConfig(Path file) {
    Path chosen = file;
    if (chosen == null && Files.isRegularFile(Path.of("creditgate.yaml"))) {
      chosen = Path.of("creditgate.yaml");
    }
    return GatewayConfig.load(chosen, System.getenv());
  }

  static class ConfigOption {
    @Option(
        names = {"-c", "--config"},
        paramLabel = "FILE",
        description =
            "YAML config file (default: ./creditgate.yaml when present, else built-in defaults)")
    Path config;

    /** The ledger the config names, opened without a cache (the CLI changes it directly). */
    JdbcCreditLedger openLedger() {
      return GatewayServer.openLedger(loadConfig(config), LedgerCommitListener.NONE);
    }

    /** The database URL of the ledger the config names. */
    String ledgerUrl() {
      return loadConfig(config).ledgerUrl();
    }

    /**
     * The API key store in the ledger's database, its table created if missing, with a pool of its
     * own. The ledger is opened and closed first, which creates its database (a SQLite file and its
     * directory) when missing.
     */
    ApiKeyStore openKeys() {
      return ApiKeyStore.open(createdLedgerUrl(), Clock.systemUTC());
    }

    /** The admin token store in the ledger's database, as {@link #openKeys} opens the keys. */
    AdminTokenStore openAdminTokens() {
      return AdminTokenStore.open(createdLedgerUrl(), Clock.systemUTC());
    }

    /**
     * The ledger's URL, once the ledger is opened and closed (creating its database if missing).
     */
    private String createdLedgerUrl() {
      GatewayConfig loaded = loadConfig(config);
      GatewayServer.openLedger(loaded, LedgerCommitListener.NONE).close();
      return loaded.ledgerUrl();
    }
  }

  @Command(
      name = "serve",
      mixinStandardHelpOptions = true,
      description = "Run the gateway until stopped.")
  static final class Serve implements Callable<Integer> {
    @CommandLine.Mixin ConfigOption options = new ConfigOption();

    @Override
    public Integer call() throws InterruptedException {
      GatewayConfig config = loadConfig(options.config);
      GatewayServer server = GatewayServer.start(config, System.getenv());
      System.out.println(
          "creditgate gateway listening on http://" + config.host() + ":" + server.port());
      System.out.flush();
      awaitShutdown(server);
      return 0;
    }
  }

  static void awaitShutdown(AutoCloseable... closeables) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  for (AutoCloseable c : closeables) {
                    try {
                      c.close();
                    } catch (Exception e) {
                      System.err.println("error while stopping: " + e);
                    }
                  }
                  stopped.countDown();
                },
                "creditgate-shutdown"));
    stopped.await();
  }

  @Command(
      name = "migrate",
      mixinStandardHelpOptions = true,
      description = "Create or update the ledger's and the gateway's tables, then exit.")
  static final class Migrate implements Callable<Integer> {
    @CommandLine.Mixin ConfigOption options = new ConfigOption();

    @Override
    public Integer call() {
      GatewayConfig config = loadConfig(options.config);
      int applied = JdbcCreditLedger.migrate(config.ledgerUrl());
      ApiKeyStore.migrate(config.ledgerUrl());
      System.out.println(
          "migrated "
              + GatewayConfig.redactUrl(config.ledgerUrl())
              + " ("
              + applied
              + " ledger migrations applied)");
      return 0;
    }
  }

  @Command(
      name = "sim",
      mixinStandardHelpOptions = true,
      description =
          "Run a SIMULATED OpenAI-compatible upstream (not an LLM) for trials and load tests.")
  static final class Sim implements Callable<Integer> {
    @Option(
        names = "--host",
        defaultValue = "127.0.0.1",
        description = "address to listen on (default: ${DEFAULT-VALUE})")
    String host;

    @Option(
        names = "--port",
        defaultValue = "8081",
        description = "port, 0 for any (default: ${DEFAULT-VALUE})")
    int port;

    @Option(
        names = "--latency-ms",
        defaultValue = "0",
        description = "added latency before the first byte")
    int latencyMs;

    @Option(
        names = "--tokens-per-second",
        defaultValue = "0",
        description = "stream pacing, 0 for instant")
    int tokensPerSecond;

    @Override
    public Integer call() throws InterruptedException {
      SimulatedUpstream sim =
          SimulatedUpstream.builder()
              .host(host)
              .port(port)
              .latency(java.time.Duration.ofMillis(latencyMs))
              .tokensPerSecond(tokensPerSecond)
              .build()
              .start();
      System.out.println(
          "SIMULATED upstream (creditgate-simulator, not an LLM) listening on " + sim.baseUrl());
      System.out.flush();
      awaitShutdown(sim);
      return 0;
    }
  }

  @Command(
      name = "account",
      mixinStandardHelpOptions = true,
      description = "Manage accounts in the ledger.",
      subcommands = {
        AccountCmd.Create.class,
        AccountCmd.Show.class,
        AccountCmd.ListCmd.class,
        AccountCmd.Grant.class,
        AccountCmd.Block.class,
        AccountCmd.Unblock.class
      })
  static final class AccountCmd implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
      spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(
        name = "create",
        mixinStandardHelpOptions = true,
        description = "Open an account (no-op if it exists).")
    static final class Create implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Parameters(paramLabel = "ACCOUNT_ID")
      String id;

      @Override
      public Integer call() {
        try (JdbcCreditLedger ledger = options.openLedger()) {
          print(ledger.openAccount(id));
        }
        return 0;
      }
    }

    @Command(
        name = "show",
        mixinStandardHelpOptions = true,
        description = "Show an account's balance and totals.")
    static final class Show implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Parameters(paramLabel = "ACCOUNT_ID")
      String id;

      @Override
      public Integer call() {
        try (JdbcCreditLedger ledger = options.openLedger()) {
          var account = ledger.account(id);
          if (account.isEmpty()) {
            System.err.println("error: account '" + id + "' does not exist");
            return 1;
          }
          print(account.get());
        }
        return 0;
      }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List accounts.")
    static final class ListCmd implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Option(names = "--limit", defaultValue = "100")
      int limit;

      @Override
      public Integer call() {
        try (JdbcCreditLedger ledger = options.openLedger()) {
          ledger.accounts(null, limit).items().forEach(CreditgateCli::print);
        }
        return 0;
      }
    }

    @Command(name = "grant", mixinStandardHelpOptions = true, description = "Add credits (top-up).")
    static final class Grant implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Parameters(index = "0", paramLabel = "ACCOUNT_ID")
      String id;

      @Parameters(index = "1", paramLabel = "CREDITS")
      long amount;

      @Option(
          names = "--idempotency-key",
          required = true,
          description = "makes a retried grant apply once")
      String eventId;

      @Option(names = "--reason", defaultValue = "")
      String reason;

      @Override
      public Integer call() {
        try (JdbcCreditLedger ledger = options.openLedger()) {
          print(ledger.grant(id, amount, eventId, "cli", reason));
        }
        return 0;
      }
    }

    @Command(name = "block", mixinStandardHelpOptions = true, description = "Block an account.")
    static final class Block implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Parameters(paramLabel = "ACCOUNT_ID")
      String id;

      @Option(names = "--reason", defaultValue = "")
      String reason;

      @Override
      public Integer call() {
        try (JdbcCreditLedger ledger = options.openLedger()) {
          print(ledger.block(id, "block-" + java.util.UUID.randomUUID(), "cli", reason));
        }
        return 0;
      }
    }

    @Command(name = "unblock", mixinStandardHelpOptions = true, description = "Unblock an account.")
    static final class Unblock implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Parameters(paramLabel = "ACCOUNT_ID")
      String id;

      @Option(names = "--reason", defaultValue = "")
      String reason;

      @Override
      public Integer call() {
        try (JdbcCreditLedger ledger = options.openLedger()) {
          print(ledger.unblock(id, "unblock-" + java.util.UUID.randomUUID(), "cli", reason));
        }
        return 0;
      }
    }
  }

  @Command(
      name = "key",
      mixinStandardHelpOptions = true,
      description = "Manage API keys.",
      subcommands = {KeyCmd.Create.class, KeyCmd.ListCmd.class, KeyCmd.Revoke.class})
  static final class KeyCmd implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
      spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(
        name = "create",
        mixinStandardHelpOptions = true,
        description = "Create a key; its secret is printed once and never stored.")
    static final class Create implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Option(names = "--account", description = "a user key for this account")
      String account;

      @Option(names = "--service", description = "a service key (names the account per request)")
      boolean service;

      @Option(names = "--label", defaultValue = "")
      String label;

      @Override
      public Integer call() {
        if (service == (account != null)) {
          throw new IllegalArgumentException("give exactly one of --account ID or --service");
        }
        try (JdbcCreditLedger ledger = options.openLedger();
            ApiKeyStore keys = ApiKeyStore.open(options.ledgerUrl(), Clock.systemUTC())) {
          if (account != null) {
            ledger.openAccount(account);
          }
          ApiKeyStore.CreatedKey created =
              keys.create(
                  service ? ApiKey.Kind.SERVICE : ApiKey.Kind.USER,
                  account == null ? "" : account,
                  label);
          System.out.println("id:     " + created.key().id());
          System.out.println(
              "kind:   " + created.key().kind().name().toLowerCase(java.util.Locale.ROOT));
          if (account != null) {
            System.out.println("account: " + account);
          }
          System.out.println("key:    " + created.secret());
          System.out.println("(the key is shown only now; store it safely)");
        }
        return 0;
      }
    }

    @Command(
        name = "list",
        mixinStandardHelpOptions = true,
        description = "List keys (never their secrets).")
    static final class ListCmd implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Option(names = "--account")
      String account;

      @Override
      public Integer call() {
        try (ApiKeyStore store = options.openKeys()) {
          List<ApiKey> keys = store.list(account);
          for (ApiKey k : keys) {
            System.out.println(
                k.id()
                    + "  "
                    + k.prefix()
                    + "...  "
                    + k.kind()
                    + "  "
                    + k.accountId()
                    + "  "
                    + (k.revoked() ? "revoked " + k.revokedAt() : "active")
                    + "  "
                    + k.label());
          }
        }
        return 0;
      }
    }

    @Command(
        name = "revoke",
        mixinStandardHelpOptions = true,
        description = "Revoke a key; it fails at once.")
    static final class Revoke implements Callable<Integer> {
      @CommandLine.Mixin ConfigOption options = new ConfigOption();

      @Parameters(paramLabel = "KEY_ID")
      String id;

      @Override
      public Integer call() {
        try (ApiKeyStore keys = options.openKeys()) {
          var revoked = keys.revoke(id);
          if (revoked.isEmpty()) {
            System.err.println("error: no key with id '" + id + "'");
            return 1;
          }
          System.out.println("revoked " + id);
        }
        return 0;
      }
    }
  }

  static void print(Account a) {
    System.out.println(
        a.id()
            + "  balance="
            + a.balance()
            + "  blocked="
            + a.blocked()
            + "  granted="
            + a.granted()
            + "  consumed="
            + a.consumed()
            + "  refunded="
            + a.refunded());
  }

  static void print(LedgerEntry e) {
    System.out.println(
        e.kind()
            + "  "
            + e.accountId()
            + "  amount="
            + e.amount()
            + "  balance_after="
            + e.balanceAfter()
            + "  event_id="
            + e.eventId());
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.gateway.cli.CreditgateCli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator commands against a SQLite ledger named in a config file. */
class CliTest {

  @TempDir Path tmp;
  Path config;

  @BeforeEach
  void writeConfig() throws Exception {
    config = tmp.resolve("creditgate.yaml");
    Files.writeString(
        config,
        "ledger:\n  url: jdbc:sqlite:"
            + tmp.resolve("cli.db")
            + "\n  spool-dir: "
            + tmp.resolve("spool")
            + "\n");
  }

  record Result(int exit, String out, String err) {}

  static synchronized Result run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int exit = CreditgateCli.run(args);
      return new Result(
          exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void accountAndKeyCommands() {
    String c = config.toString();
    assertThat(run("migrate", "--config", c).exit()).isZero();
    assertThat(run("account", "create", "acme", "--config", c).out()).contains("acme", "balance=0");
    assertThat(
            run("account", "grant", "acme", "500", "--idempotency-key", "g1", "--config", c).exit())
        .isZero();
    assertThat(
            run("account", "grant", "acme", "500", "--idempotency-key", "g1", "--config", c).exit())
        .isZero();
    assertThat(run("account", "show", "acme", "--config", c).out())
        .contains("balance=500", "granted=500");
    assertThat(run("account", "block", "acme", "--config", c).exit()).isZero();
    assertThat(run("account", "show", "acme", "--config", c).out()).contains("blocked=true");
    assertThat(run("account", "unblock", "acme", "--config", c).exit()).isZero();
    assertThat(run("account", "list", "--config", c).out()).contains("acme");

    Result key = run("key", "create", "--account", "acme", "--label", "ci", "--config", c);
    assertThat(key.exit()).isZero();
    Matcher secret = Pattern.compile("key:\\s+(cgk_\\S+)").matcher(key.out());
    Matcher id = Pattern.compile("id:\\s+(key_\\S+)").matcher(key.out());
    assertThat(secret.find()).isTrue();
    assertThat(id.find()).isTrue();
    Result list = run("key", "list", "--config", c);
    assertThat(list.out()).contains(id.group(1)).doesNotContain(secret.group(1));
    assertThat(run("key", "revoke", id.group(1), "--config", c).exit()).isZero();
    assertThat(run("key", "list", "--config", c).out()).contains("revoked");
  }

  @Test
  void adminTokenCommands() {
    String c = config.toString();
    Result created =
        run("admin-tokens", "create", "--name", "ops", "--role", "operator", "--config", c);
    assertThat(created.exit()).as(created.err()).isZero();
    Matcher secret = Pattern.compile("token:\\s+(cga_\\S+)").matcher(created.out());
    Matcher id = Pattern.compile("id:\\s+(atk_\\S+)").matcher(created.out());
    assertThat(secret.find()).isTrue();
    assertThat(id.find()).isTrue();
    String url = "jdbc:sqlite:" + tmp.resolve("cli.db");
    try (AdminTokenStore tokens = AdminTokenStore.open(url, java.time.Clock.systemUTC())) {
      assertThat(tokens.authenticate(secret.group(1)))
          .hasValueSatisfying(
              t -> {
                assertThat(t.name()).isEqualTo("ops");
                assertThat(t.role()).isEqualTo(AdminToken.Role.OPERATOR);
              });
    }
    Result list = run("admin-tokens", "list", "--config", c);
    assertThat(list.out())
        .contains(id.group(1), "ops", "operator", "active")
        .doesNotContain(secret.group(1).substring(10));

    Result taken =
        run("admin-tokens", "create", "--name", "ops", "--role", "viewer", "--config", c);
    assertThat(taken.exit()).isEqualTo(1);
    assertThat(taken.err()).contains("'ops' exists");
    Result badName =
        run("admin-tokens", "create", "--name", "Admin", "--role", "viewer", "--config", c);
    assertThat(badName.exit()).isEqualTo(2);
    assertThat(badName.err()).contains("name must be");
    Result badRole = run("admin-tokens", "create", "--name", "x", "--role", "root", "--config", c);
    assertThat(badRole.exit()).isEqualTo(2);
    assertThat(badRole.err()).contains("role must be 'viewer' or 'operator'");

    assertThat(run("admin-tokens", "revoke", id.group(1), "--config", c).exit()).isZero();
    assertThat(run("admin-tokens", "list", "--config", c).out()).contains("revoked");
    try (AdminTokenStore tokens = AdminTokenStore.open(url, java.time.Clock.systemUTC())) {
      assertThat(tokens.authenticate(secret.group(1))).isEmpty();
    }
    assertThat(run("admin-tokens", "revoke", "atk_0000000000000000", "--config", c).exit())
        .isEqualTo(1);
  }

  @Test
  void badInputExitsWithAClearMessage() throws Exception {
    String c = config.toString();
    Result negative =
        run("account", "grant", "acme", "-5", "--idempotency-key", "g", "--config", c);
    assertThat(negative.exit()).isEqualTo(2);
    assertThat(negative.err()).contains("amount");
    Result both = run("key", "create", "--service", "--account", "x", "--config", c);
    assertThat(both.exit()).isEqualTo(2);
    Path bad = tmp.resolve("bad.yaml");
    Files.writeString(bad, "server:\n  port: seventy\n");
    Result config = run("migrate", "--config", bad.toString());
    assertThat(config.exit()).isEqualTo(2);
    assertThat(config.err()).contains("server.port must be an integer, but was 'seventy'");
    Result missing = run("account", "show", "nobody", "--config", c);
    assertThat(missing.exit()).isEqualTo(1);
  }
}

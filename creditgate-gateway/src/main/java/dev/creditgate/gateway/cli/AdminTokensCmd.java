package dev.creditgate.gateway.cli;

import dev.creditgate.gateway.AdminToken;
import dev.creditgate.gateway.AdminTokenNameTakenException;
import dev.creditgate.gateway.AdminTokenStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code creditgate admin-tokens create|list|revoke}: named admin tokens, in the ledger's database
 * as the {@code key} commands manage API keys. Whoever runs these can read the database, so they
 * need no admin token; a running gateway sees a new token, and a revocation, on its next request.
 */
@Command(
    name = "admin-tokens",
    mixinStandardHelpOptions = true,
    description = "Manage named admin tokens (roles viewer and operator).",
    subcommands = {
      AdminTokensCmd.Create.class,
      AdminTokensCmd.ListCmd.class,
      AdminTokensCmd.Revoke.class
    })
final class AdminTokensCmd implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(
      name = "create",
      mixinStandardHelpOptions = true,
      description = "Create a token; its secret is printed once and never stored.")
  static final class Create implements Callable<Integer> {
    @CommandLine.Mixin CreditgateCli.ConfigOption options = new CreditgateCli.ConfigOption();

    @Option(
        names = "--name",
        required = true,
        description = "who uses it, recorded as the actor of what it changes (a-z 0-9 . _ @ -)")
    String name;

    @Option(
        names = "--role",
        required = true,
        description = "viewer (read only) or operator (everything)")
    String role;

    @Override
    public Integer call() {
      // Checked before the database is opened, so a bad value costs nothing (exit code 2).
      String cleanName = AdminTokenStore.requireName(name);
      AdminToken.Role chosen = AdminToken.Role.of(role);
      try (AdminTokenStore tokens = options.openAdminTokens()) {
        AdminTokenStore.CreatedToken created = tokens.create(cleanName, chosen);
        System.out.println("id:     " + created.token().id());
        System.out.println("name:   " + created.token().name());
        System.out.println("role:   " + created.token().role().apiName());
        System.out.println("token:  " + created.secret());
        System.out.println("(the token is shown only now; store it safely)");
      } catch (AdminTokenNameTakenException e) {
        System.err.println("error: " + e.getMessage());
        return 1;
      }
      return 0;
    }
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "List tokens, revoked ones too (never their secrets).")
  static final class ListCmd implements Callable<Integer> {
    @CommandLine.Mixin CreditgateCli.ConfigOption options = new CreditgateCli.ConfigOption();

    @Override
    public Integer call() {
      try (AdminTokenStore tokens = options.openAdminTokens()) {
        List<String[]> rows = new ArrayList<>();
        for (AdminToken t : tokens.list()) {
          rows.add(
              new String[] {
                t.id(),
                t.name(),
                t.role().apiName(),
                t.prefix() + "...",
                t.createdAt().toString(),
                t.revoked() ? "revoked " + t.revokedAt() : "active"
              });
        }
        if (rows.isEmpty()) {
          System.out.println("no admin tokens");
        } else {
          HoldsCmd.printTable(
              new String[] {"ID", "NAME", "ROLE", "PREFIX", "CREATED_AT", "STATUS"}, rows);
        }
      }
      return 0;
    }
  }

  @Command(
      name = "revoke",
      mixinStandardHelpOptions = true,
      description = "Revoke a token; every gateway refuses it from its next request on.")
  static final class Revoke implements Callable<Integer> {
    @CommandLine.Mixin CreditgateCli.ConfigOption options = new CreditgateCli.ConfigOption();

    @Parameters(paramLabel = "TOKEN_ID")
    String id;

    @Override
    public Integer call() {
      try (AdminTokenStore tokens = options.openAdminTokens()) {
        var revoked = tokens.revoke(id);
        if (revoked.isEmpty()) {
          System.err.println("error: no admin token with id '" + id + "'");
          return 1;
        }
        System.out.println("revoked " + id + " (" + revoked.get().name() + ")");
      }
      return 0;
    }
  }
}

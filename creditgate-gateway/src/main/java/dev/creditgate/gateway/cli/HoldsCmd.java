package dev.creditgate.gateway.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.BillingContext;
import dev.creditgate.ledger.LedgerChecks;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code creditgate holds list|release}: the strict-credit holds of a running gateway. Holds live
 * in the memory of the gateway process that admitted their calls, so these commands ask that
 * process, over its admin API, rather than the ledger.
 */
@Command(
    name = "holds",
    mixinStandardHelpOptions = true,
    description = "Show or release the credit holds of a running gateway (over its admin API).",
    subcommands = {HoldsCmd.ListCmd.class, HoldsCmd.Release.class})
final class HoldsCmd implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "List an account's open holds in the gateway: event id, credits, deadline.")
  static final class ListCmd implements Callable<Integer> {
    @CommandLine.Mixin GatewayOptions gateway = new GatewayOptions();

    @Parameters(paramLabel = "ACCOUNT_ID")
    String account;

    @Override
    public Integer call() {
      String id = accountId(account);
      JsonNode answer = gateway.client().get("/accounts/" + AdminClient.segment(id) + "/holds");
      List<String[]> rows = new ArrayList<>();
      for (JsonNode hold : answer.path("data")) {
        rows.add(
            new String[] {
              hold.path("event_id").asText(),
              hold.path("credits").asText(),
              hold.path("deadline").asText(),
              hold.path("instance").asText()
            });
      }
      if (rows.isEmpty()) {
        System.out.println("no holds open for account '" + id + "' in this gateway");
      } else {
        printTable(new String[] {"EVENT_ID", "CREDITS", "DEADLINE", "INSTANCE"}, rows);
        System.out.println(
            rows.size()
                + (rows.size() == 1 ? " hold, " : " holds, ")
                + answer.path("held").asLong()
                + " credits held for account '"
                + id
                + "'");
      }
      printLeases(id, answer);
      return 0;
    }
  }

  @Command(
      name = "release",
      mixinStandardHelpOptions = true,
      description =
          "Release a hold: its credit is available at once; the call, if still running, is still"
              + " charged when it ends.")
  static final class Release implements Callable<Integer> {
    @CommandLine.Mixin GatewayOptions gateway = new GatewayOptions();

    @Parameters(index = "0", paramLabel = "ACCOUNT_ID")
    String account;

    @Parameters(index = "1", paramLabel = "EVENT_ID")
    String eventId;

    @Override
    public Integer call() {
      String id = accountId(account);
      String event = eventId(eventId);
      gateway
          .client()
          .delete("/accounts/" + AdminClient.segment(id) + "/holds/" + AdminClient.segment(event));
      System.out.println("released the hold of event '" + event + "' on account '" + id + "'");
      return 0;
    }
  }

  /** The account id, checked here so that a bad one costs no call (exit code 2). */
  static String accountId(String id) {
    try {
      return BillingContext.requireValidAccountId(id);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage().replaceFirst("^accountId", "ACCOUNT_ID"));
    }
  }

  static String eventId(String id) {
    try {
      return LedgerChecks.requireEventId(id);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage().replaceFirst("^eventId", "EVENT_ID"));
    }
  }

  /**
   * The account's leases of every gateway, when the gateway leases credit (the listing then has a
   * {@code leases} array).
   */
  private static void printLeases(String id, JsonNode answer) {
    if (!answer.has("leases")) {
      return;
    }
    List<String[]> rows = new ArrayList<>();
    for (JsonNode lease : answer.path("leases")) {
      rows.add(
          new String[] {
            lease.path("holder").asText(),
            lease.path("credits").asText(),
            lease.path("expires_at").asText()
          });
    }
    System.out.println();
    if (rows.isEmpty()) {
      System.out.println("no live leases of account '" + id + "'");
      return;
    }
    printTable(new String[] {"HOLDER", "LEASED", "EXPIRES_AT"}, rows);
    System.out.println(
        answer.path("leased").asLong() + " credits leased by all gateways of account '" + id + "'");
  }

  /** Left-aligned columns, two spaces apart, under a header. */
  static void printTable(String[] header, List<String[]> rows) {
    int[] widths = new int[header.length];
    for (int i = 0; i < header.length; i++) {
      widths[i] = header[i].length();
      for (String[] row : rows) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    System.out.println(line(header, widths));
    for (String[] row : rows) {
      System.out.println(line(row, widths));
    }
  }

  private static String line(String[] cells, int[] widths) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < cells.length; i++) {
      if (i > 0) {
        out.append("  ");
      }
      out.append(cells[i]);
      if (i < cells.length - 1) {
        out.append(" ".repeat(widths[i] - cells[i].length()));
      }
    }
    return out.toString();
  }
}

package dev.creditgate.gateway;

import static dev.creditgate.gateway.MetricsAndHealthTest.parse;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The alert rules and the Grafana dashboard under {@code docs/monitoring}: the rules pass {@code
 * promtool check rules} and their unit tests ({@code promtool test rules}), and every metric the
 * rules and the dashboard read is one a running gateway exposes, or, for a meter that appears with
 * its first event, one the gateway's documentation lists.
 */
class MonitoringAssetsTest extends GatewayTestSupport {

  private static final Path MONITORING = Path.of("..", "docs", "monitoring");
  private static final Path RULES = MONITORING.resolve("creditgate-alerts.yml");
  private static final Path RULE_TESTS = MONITORING.resolve("creditgate-alerts.test.yml");
  private static final Path DASHBOARD = MONITORING.resolve("creditgate-dashboard.json");

  /** Meters registered on their first event; a healthy gateway on SQLite shows none of them. */
  private static final Set<String> ON_FIRST_EVENT =
      Set.of(
          "creditgate_charges_failed_total",
          "creditgate_usage_fallbacks_total",
          "creditgate_holds_shortfalls_total",
          "creditgate_holds_overrun_credits_total",
          "creditgate_calls_refused_concurrency_total",
          "creditgate_leases_total");

  /** Names of metrics in a PromQL expression, once label matchers and grouping are removed. */
  private static final Pattern METRIC =
      Pattern.compile("\\b((?:creditgate|gen_ai|jvm|process|system)_[a-z0-9_]+)\\b");

  private static final Pattern LABELS =
      Pattern.compile("\\{[^}]*\\}|\\b(?:by|without)\\s*\\([^)]*\\)");

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of("ledger.url", "jdbc:sqlite:" + tmp.resolve("creditgate.db"));
  }

  @Test
  void alertRulesPassPromtoolAndTheirUnitTests() throws Exception {
    assertThat(promtool("check", "rules", RULES.getFileName().toString()))
        .contains("SUCCESS: 7 rules found");
    assertThat(promtool("test", "rules", RULE_TESTS.getFileName().toString())).contains("SUCCESS");
  }

  @Test
  void everyMetricTheRulesAndTheDashboardReadIsExposed() throws Exception {
    String key = userKey(account(), 1_000_000);
    assertThat(post(key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    // The GC pause timer is registered on the first collection the process sees.
    System.gc();
    Set<String> exposed = new HashSet<>();
    for (String sample : parse(get("/metrics").body()).keySet()) {
      int brace = sample.indexOf('{');
      exposed.add(brace < 0 ? sample : sample.substring(0, brace));
    }
    String documented = Files.readString(Path.of("..", "docs", "gateway.md"));

    List<String> expressions = new ArrayList<>(ruleExpressions());
    JsonNode dashboard = JSON.readTree(Files.readString(DASHBOARD));
    Set<Integer> ids = new HashSet<>();
    for (JsonNode panel : dashboard.path("panels")) {
      assertThat(ids.add(panel.path("id").asInt())).as("panel id %s", panel.path("id")).isTrue();
      assertThat(panel.path("title").asText()).isNotBlank();
      assertThat(panel.path("targets").size()).as(panel.path("title").asText()).isPositive();
      for (JsonNode target : panel.path("targets")) {
        expressions.add(target.path("expr").asText());
      }
    }
    assertThat(ids).hasSizeGreaterThanOrEqualTo(16);

    Set<String> read = new TreeSet<>();
    for (String expression : expressions) {
      Matcher m = METRIC.matcher(LABELS.matcher(expression).replaceAll(" "));
      while (m.find()) {
        read.add(m.group(1));
      }
    }
    assertThat(read).contains("gen_ai_client_token_usage_sum", "creditgate_ledger_spool_size");
    for (String name : read) {
      if (ON_FIRST_EVENT.contains(name)) {
        assertThat(documented).as("documented: %s", name).contains(name);
      } else {
        assertThat(exposed).as("exposed on /metrics").contains(name);
      }
    }
  }

  /** The {@code expr} of every rule in the rules file. */
  private static List<String> ruleExpressions() throws IOException {
    List<String> expressions = new ArrayList<>();
    JsonNode groups =
        new com.fasterxml.jackson.databind.ObjectMapper(
                new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
            .readTree(Files.readString(RULES))
            .path("groups");
    for (JsonNode group : groups) {
      for (JsonNode rule : group.path("rules")) {
        expressions.add(rule.path("expr").asText());
      }
    }
    assertThat(expressions).hasSize(7);
    return expressions;
  }

  /** Runs promtool in the monitoring folder; its output, after checking it succeeded. */
  private static String promtool(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(promtoolBinary());
    command.addAll(List.of(args));
    Process process =
        new ProcessBuilder(command)
            .directory(MONITORING.toFile())
            .redirectErrorStream(true)
            .start();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("promtool did not finish within 60 s: " + command);
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.exitValue()).as("%s:%n%s", command, output).isZero();
    return output;
  }

  private static String promtoolBinary() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "promtool"))) {
        return Path.of(dir, "promtool").toString();
      }
    }
    throw new AssertionError(
        "promtool is not installed: the alert-rule tests need it (Debian: apt-get install"
            + " prometheus)");
  }
}

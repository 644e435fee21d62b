package dev.creditgate.gateway.cli;

import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.GatewayConfig;
import dev.creditgate.gateway.GatewayServer;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.sim.SimulatedUpstream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code creditgate demo}: the gateway on the embedded defaults (SQLite, in-process cache) with the
 * SIMULATED upstream behind every alias, a funded demo account and a fresh user key, and a curl
 * command and an OpenAI SDK snippet that work as printed.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description =
        "Run the gateway with a SIMULATED upstream, a funded demo account and a key; print how to call it.")
final class Demo implements Callable<Integer> {

  static final String ACCOUNT = "demo";
  static final long CREDITS = 10_000_000;

  /** The demo's alias of the Anthropic protocol (the others are OpenAI's). */
  static final String ANTHROPIC_ALIAS = "claude";

  /**
   * Micros per 1,000 tokens (input, output, cached, reasoning); one credit is one micro-currency
   * unit.
   */
  static final PriceRule DEMO_RULE =
      new PriceRule(0, "", "", "", 3200, 16000, 800, 16000, 1_000_000, 0, 0, true);

  @Option(
      names = "--port",
      defaultValue = "8080",
      description = "gateway port, 0 for any (default: ${DEFAULT-VALUE})")
  int port;

  @Option(
      names = "--data-dir",
      defaultValue = "./data/demo",
      description = "where the demo's SQLite ledger lives (default: ${DEFAULT-VALUE})")
  Path dataDir;

  @Override
  public Integer call() throws InterruptedException {
    SimulatedUpstream sim = SimulatedUpstream.builder().port(0).build().start();
    GatewayServer server;
    String adminToken = randomHex(24);
    try {
      Map<String, String> props = new HashMap<>();
      props.put("demo", "true");
      props.put("server.port", Integer.toString(port));
      props.put("admin.token", adminToken);
      props.put("ledger.url", "jdbc:sqlite:" + dataDir.resolve("creditgate.db"));
      props.put("ledger.spool-dir", dataDir.resolve("spool").toString());
      for (String alias : GatewayConfig.BUILT_IN_ALIASES) {
        props.put("models." + alias + ".base-url", sim.baseUrl());
        props.put("models." + alias + ".model", "sim-" + alias);
        props.put("models." + alias + ".provider", "simulator");
      }
      // The simulator speaks Anthropic's protocol too.
      props.put("models." + ANTHROPIC_ALIAS + ".base-url", sim.baseUrl());
      props.put("models." + ANTHROPIC_ALIAS + ".model", "sim-claude");
      props.put("models." + ANTHROPIC_ALIAS + ".provider", "simulator");
      props.put("models." + ANTHROPIC_ALIAS + ".protocol", "anthropic");
      server = GatewayServer.start(GatewayConfig.fromProperties(props, Map.of()), Map.of());
    } catch (RuntimeException e) {
      sim.close();
      throw e;
    }
    JdbcCreditLedger ledger = server.ledger();
    if (ledger.priceRules().stream().noneMatch(r -> r.active())) {
      ledger.createPriceRule(DEMO_RULE);
    }
    ledger.openAccount(ACCOUNT);
    // A fixed event id: running the demo again does not grant again.
    ledger.grant(ACCOUNT, CREDITS, "demo-initial-grant", "demo", "demo credits");
    String key = server.keys().create(ApiKey.Kind.USER, ACCOUNT, "demo").secret();
    long balance = ledger.account(ACCOUNT).orElseThrow().balance();
    print(System.out, server.port(), key, adminToken, balance);
    CreditgateCli.awaitShutdown(server, sim);
    return 0;
  }

  static void print(PrintStream out, int port, String key, String adminToken, long balance) {
    String base = "http://127.0.0.1:" + port;
    out.println();
    out.println(
        "Creditgate demo is running. Upstream: SIMULATED (creditgate-simulator, not a real LLM).");
    out.println("  gateway      " + base + "  (OpenAI-compatible: " + base + "/v1)");
    out.println("  account      " + ACCOUNT + "  balance " + balance + " credits");
    out.println("  API key      " + key);
    out.println("  admin token  " + adminToken);
    out.println("  console      " + base + "/console  (sign in with the admin token)");
    out.println("  admin API    " + base + "/admin/docs  (Swagger UI)");
    out.println();
    out.println("Call it with curl:");
    out.println(
        "curl -sS "
            + base
            + "/v1/chat/completions -H 'Authorization: Bearer "
            + key
            + "' -H 'Content-Type: application/json' -d '{\"model\":\"pro\",\"messages\":[{\"role\":\"user\","
            + "\"content\":\"Hello!\"}]}'");
    out.println();
    out.println("Or with the OpenAI Python SDK (pip install openai):");
    out.println("python3 - <<'PY'");
    out.println("from openai import OpenAI");
    out.println("client = OpenAI(base_url=\"" + base + "/v1\", api_key=\"" + key + "\")");
    out.println(
        "reply = client.chat.completions.create(model=\"pro\", messages=[{\"role\": \"user\", \"content\": "
            + "\"Hello!\"}])");
    out.println("print(reply.choices[0].message.content, reply.usage)");
    out.println("PY");
    out.println();
    out.println("Or with the OpenAI Node.js SDK (npm install openai, then from that folder):");
    out.println("node --input-type=module <<'JS'");
    out.println("import OpenAI from \"openai\";");
    out.println(
        "const client = new OpenAI({ baseURL: \"" + base + "/v1\", apiKey: \"" + key + "\" });");
    out.println(
        "const reply = await client.chat.completions.create({ model: \"pro\", messages: [{ role: \"user\", "
            + "content: \"Hello!\" }] });");
    out.println("console.log(reply.choices[0].message.content, reply.usage);");
    out.println("JS");
    out.println();
    out.println("The other APIs, metered the same way (OpenAI Responses, embeddings, Anthropic):");
    String json = "' -H 'Content-Type: application/json' -d '";
    out.println(
        "curl -sS "
            + base
            + "/v1/responses -H 'Authorization: Bearer "
            + key
            + json
            + "{\"model\":\"pro\",\"input\":\"Hello!\"}'");
    out.println(
        "curl -sS "
            + base
            + "/v1/embeddings -H 'Authorization: Bearer "
            + key
            + json
            + "{\"model\":\"lite\",\"input\":\"Hello!\"}'");
    out.println(
        "curl -sS "
            + base
            + "/v1/messages -H 'x-api-key: "
            + key
            + "' -H 'anthropic-version: 2023-06-01"
            + json
            + "{\"model\":\""
            + ANTHROPIC_ALIAS
            + "\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'");
    out.println();
    out.println("See the balance go down:");
    out.println(
        "curl -sS "
            + base
            + "/admin/v1/accounts/"
            + ACCOUNT
            + " -H 'Authorization: Bearer "
            + adminToken
            + "'");
    out.println();
    out.println("Metrics: " + base + "/metrics   Press Ctrl+C to stop.");
    out.flush();
  }

  private static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}

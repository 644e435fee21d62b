package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code creditgate demo} as a separate process: the curl command and the Node.js SDK snippet it
 * prints work as printed.
 */
class DemoProcessTest {

  @TempDir Path tmp;

  @Test
  void printedCurlCommandWorksAsPrinted() throws Exception {
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    Process demo =
        new ProcessBuilder(
                javaBin,
                "-cp",
                System.getProperty("java.class.path"),
                "dev.creditgate.gateway.cli.CreditgateCli",
                "demo",
                "--port",
                "0",
                "--data-dir",
                tmp.resolve("demo").toString())
            .directory(tmp.toFile())
            .redirectError(tmp.resolve("demo.err").toFile())
            .start();
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread reader =
        Thread.ofVirtual()
            .start(
                () -> {
                  try (BufferedReader r =
                      new BufferedReader(
                          new InputStreamReader(demo.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                      lines.add(line);
                    }
                  } catch (Exception ignored) {
                    // The process was stopped.
                  }
                });
    try {
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(90))
          .until(() -> lines.stream().anyMatch(l -> l.startsWith("Metrics:")) || !demo.isAlive());
      assertThat(demo.isAlive()).as("demo is running; output: %s", lines).isTrue();
      String curl =
          lines.stream()
              .filter(l -> l.startsWith("curl ") && l.contains("/v1/chat/completions"))
              .findFirst()
              .orElseThrow();
      String adminCurl =
          lines.stream()
              .filter(l -> l.startsWith("curl ") && l.contains("/admin/v1/accounts/demo"))
              .findFirst()
              .orElseThrow();
      assertThat(lines).anyMatch(l -> l.contains("SIMULATED"));

      // The console's printed address serves the sign-in form, and the printed admin token signs
      // in on it.
      String console =
          lines.stream()
              .filter(l -> l.trim().startsWith("console "))
              .findFirst()
              .orElseThrow()
              .trim()
              .split("\\s+")[1];
      String adminToken =
          lines.stream()
              .filter(l -> l.trim().startsWith("admin token "))
              .findFirst()
              .orElseThrow()
              .trim()
              .split("\\s+")[2];
      assertThat(run("curl -sS -o /dev/null -w '%{http_code}' -L " + console)).isEqualTo("200");
      assertThat(
              run(
                  "curl -sS -o /dev/null -w '%{http_code}' --data-urlencode token="
                      + adminToken
                      + " "
                      + console
                      + "/sign-in"))
          .isEqualTo("303");

      JsonNode completion = new ObjectMapper().readTree(run(curl));
      assertThat(completion.path("object").asText()).isEqualTo("chat.completion");
      assertThat(completion.path("choices").get(0).path("message").path("content").asText())
          .isNotBlank();
      assertThat(completion.path("usage").path("total_tokens").asLong()).isPositive();

      JsonNode account = new ObjectMapper().readTree(run(adminCurl));
      assertThat(account.path("id").asText()).isEqualTo("demo");
      long consumedByCurl = account.path("consumed").asLong();
      assertThat(consumedByCurl).isPositive();
      assertThat(account.path("balance").asLong()).isEqualTo(10_000_000 - consumedByCurl);

      // The Node.js SDK snippet, run as printed in a folder where `npm install openai` ran.
      String snippet =
          String.join(
                  "\n",
                  lines.subList(
                      lines.indexOf("node --input-type=module <<'JS'"),
                      lines.lastIndexOf("JS") + 1))
              + "\n";
      Path nodeDir = Files.createDirectories(tmp.resolve("node"));
      boolean sdkInstalled =
          runIn(nodeDir, "npm install --silent --no-audit --no-fund openai@4", 240) == 0;
      if (!"true".equals(System.getenv("CI"))) {
        Assumptions.assumeTrue(
            sdkInstalled,
            "npm could not install the openai package; the Node.js snippet was not run");
      }
      assertThat(sdkInstalled)
          .as("npm install openai (CI must run the printed SDK snippet)")
          .isTrue();
      Files.writeString(nodeDir.resolve("snippet.sh"), snippet);
      assertThat(runIn(nodeDir, "bash snippet.sh > out.txt 2>&1", 60))
          .as("%s", readOrEmpty(nodeDir.resolve("out.txt")))
          .isZero();
      assertThat(readOrEmpty(nodeDir.resolve("out.txt"))).contains("prompt_tokens");
      JsonNode after = new ObjectMapper().readTree(run(adminCurl));
      assertThat(after.path("consumed").asLong()).isGreaterThan(consumedByCurl);

      // One call per further API, each run as printed and charged.
      long consumed = after.path("consumed").asLong();
      for (String api : new String[] {"/v1/responses", "/v1/embeddings", "/v1/messages"}) {
        String command =
            lines.stream()
                .filter(l -> l.startsWith("curl ") && l.contains(api + " "))
                .findFirst()
                .orElseThrow();
        JsonNode answer = new ObjectMapper().readTree(run(command));
        assertThat(answer.path("usage").path("creditgate_charged_credits").asLong())
            .as("%s answered %s", api, answer)
            .isPositive();
        long now = new ObjectMapper().readTree(run(adminCurl)).path("consumed").asLong();
        assertThat(now).as(api).isGreaterThan(consumed);
        consumed = now;
      }
    } finally {
      demo.destroy();
      if (!demo.waitFor(15, TimeUnit.SECONDS)) {
        demo.destroyForcibly();
      }
      reader.join(5000);
    }
  }

  private static int runIn(Path dir, String command, int seconds) throws Exception {
    Process p =
        new ProcessBuilder("bash", "-c", command)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("cmd.log").toFile())
            .start();
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }

  private static String readOrEmpty(Path file) throws Exception {
    return Files.exists(file) ? Files.readString(file) : "";
  }

  private static String run(String command) throws Exception {
    Process p = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("exit of %s: %s", command, out).isZero();
    return out;
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code creditgate demo} as a separate process: the curl command it prints works as printed. */
class DemoProcessTest {

  @TempDir
  Path tmp;

  @Test
  void printedCurlCommandWorksAsPrinted() throws Exception {
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    Process demo = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"),
        "dev.creditgate.gateway.cli.CreditgateCli", "demo", "--port", "0", "--data-dir", tmp.resolve("demo").toString())
        .directory(tmp.toFile())
        .redirectError(tmp.resolve("demo.err").toFile())
        .start();
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread reader = Thread.ofVirtual().start(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(demo.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          lines.add(line);
        }
      } catch (Exception ignored) {
        // The process was stopped.
      }
    });
    try {
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(90))
          .until(() -> lines.stream().anyMatch(l -> l.startsWith("Metrics:")) || !demo.isAlive());
      assertThat(demo.isAlive()).as("demo is running; output: %s", lines).isTrue();
      String curl = lines.stream().filter(l -> l.startsWith("curl ") && l.contains("/v1/chat/completions"))
          .findFirst().orElseThrow();
      String adminCurl = lines.stream().filter(l -> l.startsWith("curl ") && l.contains("/admin/v1/accounts/demo"))
          .findFirst().orElseThrow();
      assertThat(lines).anyMatch(l -> l.contains("SIMULATED"));

      JsonNode completion = new ObjectMapper().readTree(run(curl));
      assertThat(completion.path("object").asText()).isEqualTo("chat.completion");
      assertThat(completion.path("choices").get(0).path("message").path("content").asText()).isNotBlank();
      assertThat(completion.path("usage").path("total_tokens").asLong()).isPositive();

      JsonNode account = new ObjectMapper().readTree(run(adminCurl));
      assertThat(account.path("id").asText()).isEqualTo("demo");
      assertThat(account.path("consumed").asLong()).isPositive();
      assertThat(account.path("balance").asLong()).isEqualTo(10_000_000 - account.path("consumed").asLong());
    } finally {
      demo.destroy();
      if (!demo.waitFor(15, TimeUnit.SECONDS)) {
        demo.destroyForcibly();
      }
      reader.join(5000);
    }
  }

  private static String run(String command) throws Exception {
    Process p = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("exit of %s: %s", command, out).isZero();
    return out;
  }
}

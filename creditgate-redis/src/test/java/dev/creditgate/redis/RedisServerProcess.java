package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A redis-server process of the test's own on a free loopback port, to kill, pause and restart
 * without disturbing the shared Redis other tests use.
 */
final class RedisServerProcess implements AutoCloseable {

  private final int port;
  private final Path dir;
  private final List<String> extraArgs;
  private Process process;

  private RedisServerProcess(int port, Path dir, List<String> extraArgs) {
    this.port = port;
    this.dir = dir;
    this.extraArgs = extraArgs;
  }

  /**
   * Skips the calling test with a clear message when redis-server is not installed, except on CI
   * (env CI=true), where a missing server is a failure.
   */
  static void assumeInstalled() {
    boolean installed = which("redis-server") && which("redis-cli");
    if (!installed && "true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(
          "redis-server and redis-cli must be installed when CI=true (apt-get install redis-server)");
    }
    Assumptions.assumeTrue(
        installed,
        "skipped: redis-server / redis-cli not installed (apt-get install redis-server); never skipped with CI=true");
  }

  static RedisServerProcess start(String... extraArgs) {
    try {
      return startOnPort(freePort(), extraArgs);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static RedisServerProcess startOnPort(int port, String... extraArgs) {
    assumeInstalled();
    try {
      Path dir = Files.createTempDirectory("creditgate-redis-");
      RedisServerProcess server = new RedisServerProcess(port, dir, List.of(extraArgs));
      server.startProcess();
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  int port() {
    return port;
  }

  String uri() {
    return "redis://127.0.0.1:" + port;
  }

  long pid() {
    return process.pid();
  }

  /** SIGKILL: the server vanishes mid-command, as in a crash. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /** Starts the server again on the same port, empty. */
  void restart() {
    startProcess();
  }

  void signal(String signal) throws IOException, InterruptedException {
    Process kill =
        new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
    kill.waitFor(10, TimeUnit.SECONDS);
  }

  private void startProcess() {
    List<String> command =
        new ArrayList<>(
            List.of(
                "redis-server",
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.toString(),
                "--protected-mode",
                "no"));
    command.addAll(extraArgs);
    try {
      process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("redis-" + port + ".log").toFile())
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      if (ping()) {
        return;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new IllegalStateException(
        "redis-server on port " + port + " did not answer PING within 10 s");
  }

  private boolean ping() {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(500);
      socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      byte[] buffer = new byte[7];
      int read = socket.getInputStream().read(buffer);
      return read > 0 && new String(buffer, 0, read, StandardCharsets.US_ASCII).startsWith("+PONG");
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    if (process != null) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try (var files = Files.walk(dir)) {
      files
          .sorted((a, b) -> b.getNameCount() - a.getNameCount())
          .map(Path::toFile)
          .forEach(File::delete);
    } catch (IOException ignored) {
      // A leftover temp directory does no harm.
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    }
  }

  /** A free port whose cluster bus port (port + 10000) is free too. */
  static int freeClusterPort() throws IOException {
    for (int attempt = 0; attempt < 100; attempt++) {
      int port = 20000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(30000);
      try (ServerSocket a = new ServerSocket(port);
          ServerSocket b = new ServerSocket(port + 10000)) {
        return port;
      } catch (IOException busy) {
        // Try another.
      }
    }
    throw new IOException("no free port pair for a cluster node");
  }

  private static boolean which(String binary) {
    for (String path : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(path, binary))) {
        return true;
      }
    }
    return false;
  }
}

package dev.creditgate.redis;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Redis Cluster of three masters on loopback ports, made with redis-cli --cluster create.
 */
final class RedisClusterProcess implements AutoCloseable {

  private final List<RedisServerProcess> nodes = new ArrayList<>();

  static RedisClusterProcess start() throws IOException, InterruptedException {
    RedisServerProcess.assumeInstalled();
    RedisClusterProcess cluster = new RedisClusterProcess();
    try {
      for (int i = 0; i < 3; i++) {
        cluster.nodes.add(
            RedisServerProcess.startOnPort(
                RedisServerProcess.freeClusterPort(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000"));
      }
      List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
      for (RedisServerProcess node : cluster.nodes) {
        create.add("127.0.0.1:" + node.port());
      }
      create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
      run(create);
      cluster.awaitReady();
      return cluster;
    } catch (IOException | InterruptedException | RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  String uri() {
    return nodes.get(0).uri();
  }

  List<RedisServerProcess> nodes() {
    return nodes;
  }

  private void awaitReady() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      boolean ok = true;
      for (RedisServerProcess node : nodes) {
        String info =
            run(List.of("redis-cli", "-p", Integer.toString(node.port()), "cluster", "info"));
        ok &= info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3");
      }
      if (ok) {
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("redis cluster did not reach cluster_state:ok within 20 s");
  }

  private static String run(List<String> command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
    }
    return output;
  }

  @Override
  public void close() {
    for (RedisServerProcess node : nodes) {
      node.close();
    }
  }
}

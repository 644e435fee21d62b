package dev.creditgate.redis;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import java.time.Duration;

/**
 * One three-master cluster for all cluster tests in this JVM (starting one takes seconds); torn
 * down when the JVM exits.
 */
final class SharedCluster {

  private static RedisClusterProcess cluster;
  private static RedisClusterClient client;

  private SharedCluster() {}

  /** The cluster's client; skips the test (or fails on CI) when redis-server is missing. */
  static synchronized RedisClusterClient client() throws Exception {
    if (client == null) {
      RedisServerProcess.assumeInstalled();
      cluster = RedisClusterProcess.start();
      // Not REJECT_COMMANDS: Lettuce opens node connections lazily and would reject the first
      // command routed to each node. The cache's own time budget bounds queued commands instead.
      client = RedisClusterClient.create(RedisURI.create(cluster.uri()));
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
                    cluster.close();
                  }));
    }
    return client;
  }
}

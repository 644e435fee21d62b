package dev.creditgate.ledger.jdbc;

import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.HexFormat;

/** Names of lease holders: the process and its host, and a random part unique per ledger. */
final class LeaseHolders {

  private static final SecureRandom RANDOM = new SecureRandom();

  private LeaseHolders() {}

  /**
   * {@code pid@host/random}: readable by an operator, and unique even where every process is pid 1
   * of a container restarted under the same host name.
   */
  static String newHolderName() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException | RuntimeException e) {
      host = "localhost";
    }
    byte[] random = new byte[4];
    RANDOM.nextBytes(random);
    String name = ProcessHandle.current().pid() + "@" + host;
    if (name.length() > 180) {
      name = name.substring(0, 180);
    }
    return name + "/" + HexFormat.of().formatHex(random);
  }
}

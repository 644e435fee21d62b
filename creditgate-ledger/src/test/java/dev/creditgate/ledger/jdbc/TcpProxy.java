package dev.creditgate.ledger.jdbc;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP forwarder to a real server that a test can cut and restore, to take a database away from
 * the code under test without stopping the shared server.
 *
 * <p>The listening socket stays bound for the proxy's whole life: while cut, a new connection is
 * accepted and closed at once (the client sees its connection dropped). Closing and re-binding the
 * port instead is racy: the port is an ephemeral one, and any outgoing connection on the machine
 * may be given it in between ("Address already in use" on restore).
 */
final class TcpProxy implements AutoCloseable {

  private final String targetHost;
  private final int targetPort;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private ServerSocket server;
  private volatile boolean cut;

  TcpProxy(String targetHost, int targetPort) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
  }

  int port() {
    return server.getLocalPort();
  }

  /** Starts listening on an ephemeral loopback port. */
  synchronized TcpProxy start() throws IOException {
    if (server != null) {
      throw new IllegalStateException("already started on port " + server.getLocalPort());
    }
    ServerSocket listening = new ServerSocket();
    listening.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    server = listening;
    Thread.ofVirtual().start(() -> accept(listening));
    return this;
  }

  private void accept(ServerSocket listening) {
    while (!listening.isClosed()) {
      Socket client;
      try {
        client = listening.accept();
      } catch (IOException e) {
        return;
      }
      if (cut) {
        closeQuietly(client);
        continue;
      }
      try {
        Socket upstream = new Socket(targetHost, targetPort);
        sockets.add(client);
        sockets.add(upstream);
        if (cut) { // cut() ran while this connection was being set up: it did not see it
          closeQuietly(client);
          closeQuietly(upstream);
          continue;
        }
        Thread.ofVirtual().start(() -> pump(client, upstream));
        Thread.ofVirtual().start(() -> pump(upstream, client));
      } catch (IOException e) {
        closeQuietly(client);
      }
    }
  }

  private void pump(Socket from, Socket to) {
    byte[] buffer = new byte[16384];
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      int read;
      while ((read = in.read(buffer)) >= 0) {
        out.write(buffer, 0, read);
        out.flush();
      }
    } catch (IOException e) {
      // the other side went away, or the proxy was cut
    } finally {
      closeQuietly(from);
      closeQuietly(to);
      sockets.remove(from);
      sockets.remove(to);
    }
  }

  /** Breaks every open connection and drops new ones until {@link #restore()}. */
  synchronized void cut() {
    cut = true;
    for (Socket socket : sockets) {
      closeQuietly(socket);
    }
    sockets.clear();
  }

  /** Forwards new connections again. */
  synchronized void restore() {
    cut = false;
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      if (closeable != null) {
        closeable.close();
      }
    } catch (Exception e) {
      // closing anyway
    }
  }

  @Override
  public synchronized void close() {
    cut();
    closeQuietly(server);
  }
}

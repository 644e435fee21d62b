package dev.creditgate.sim;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;

/**
 * The listening socket and the JDK server on it. A JDK server cannot listen again once stopped, so
 * refusing connections stops it and listening again starts a new one on the same port, with the
 * same handler and executor. Not thread-safe: the owner serializes calls.
 */
final class Listener {

  private static final int BACKLOG = 4096;

  private final InetAddress address;
  private final HttpHandler handler;
  private final ExecutorService executor;
  private final int port;
  private HttpServer server;

  /**
   * Binds {@code port} (0 for any free one) and starts serving.
   *
   * @throws UncheckedIOException if the port cannot be bound
   */
  Listener(String host, int port, HttpHandler handler, ExecutorService executor) {
    try {
      this.address = InetAddress.getByName(host);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot resolve the simulator's host " + host, e);
    }
    this.handler = handler;
    this.executor = executor;
    this.server = bind(port);
    this.port = server.getAddress().getPort();
  }

  int port() {
    return port;
  }

  boolean listening() {
    return server != null;
  }

  /** Closes the listening socket and every open connection. */
  void stop() {
    if (server != null) {
      server.stop(0);
      server = null;
    }
  }

  /**
   * Listens again on the same port.
   *
   * @throws UncheckedIOException if the port was taken meanwhile
   */
  void resume() {
    if (server == null) {
      server = bind(port);
    }
  }

  private HttpServer bind(int wanted) {
    HttpServer http;
    try {
      http = HttpServer.create(new InetSocketAddress(address, wanted), BACKLOG);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot bind the simulator to " + address.getHostAddress() + ":" + wanted, e);
    }
    http.setExecutor(executor);
    http.createContext("/", handler);
    http.start();
    return http;
  }
}

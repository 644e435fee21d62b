package dev.creditgate.sim;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;

/** One protocol's {@code POST} endpoint. */
interface ProtocolEndpoint {

  /** How this protocol writes its errors, also for a wrong method or a fault. */
  ErrorShape shape();

  /** Answers one request under the run-time fault read when it arrived. */
  void handle(HttpExchange ex, Fault fault) throws IOException, InterruptedException;
}

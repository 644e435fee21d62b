package dev.creditgate.gateway.internal;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The HTTP/1.1 client for upstream calls (Jetty's, with pooled keep-alive connections and TLS).
 *
 * <p>Every exchange is bounded twice: {@link #send} waits at most the first-byte timeout for the
 * response headers, and each {@link Exchange#body() body} read at most the idle timeout for its
 * next bytes. The idle deadline is a timestamp each read moves forward; one sweeper task checks the
 * open exchanges a few times per idle timeout and aborts the stalled ones, so a read costs no timer
 * of its own (a streamed answer has one read per token).
 */
public final class UpstreamClient implements AutoCloseable {

  /** Connections kept per upstream host: enough for about this many concurrent streams. */
  static final int MAX_CONNECTIONS_PER_UPSTREAM = 4096;
  /** Requests waiting for a connection beyond those; more are refused at once (502). */
  static final int MAX_QUEUED_PER_UPSTREAM = 4096;
  /** An idle pooled connection is closed after this long. */
  static final Duration POOL_IDLE_TIMEOUT = Duration.ofSeconds(30);

  private final HttpClient client;
  private final long firstByteNanos;
  private final long idleNanos;
  private final Set<Exchange> open = ConcurrentHashMap.newKeySet();
  private final ScheduledFuture<?> sweeper;

  /**
   * @param timer runs the idle sweeper; the caller owns it
   * @throws IllegalArgumentException when a timeout is not positive
   */
  public UpstreamClient(Duration connectTimeout, Duration firstByteTimeout, Duration idleTimeout,
      ScheduledExecutorService timer) {
    this.firstByteNanos = positive("first-byte timeout", firstByteTimeout);
    this.idleNanos = positive("idle timeout", idleTimeout);
    positive("connect timeout", connectTimeout);
    QueuedThreadPool pool = new QueuedThreadPool(64, 4);
    pool.setName("creditgate-upstream");
    pool.setDaemon(true);
    client = new HttpClient();
    client.setExecutor(pool);
    client.setConnectTimeout(connectTimeout.toMillis());
    client.setIdleTimeout(POOL_IDLE_TIMEOUT.toMillis());
    client.setMaxConnectionsPerDestination(MAX_CONNECTIONS_PER_UPSTREAM);
    client.setMaxRequestsQueuedPerDestination(MAX_QUEUED_PER_UPSTREAM);
    client.setFollowRedirects(false);
    client.setUserAgentField(new HttpField(HttpHeader.USER_AGENT, "creditgate"));
    // Bodies pass through as the upstream sent them: no Accept-Encoding, no decoding.
    client.getContentDecoderFactories().clear();
    try {
      client.start();
    } catch (Exception e) {
      throw new IllegalStateException("cannot start the upstream HTTP client", e);
    }
    long sweepNanos = Math.clamp(idleNanos / 8, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.MILLISECONDS.toNanos(250));
    this.sweeper = timer.scheduleWithFixedDelay(this::sweep, sweepNanos, sweepNanos, TimeUnit.NANOSECONDS);
  }

  private static long positive(String what, Duration d) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("the upstream " + what + " must be positive, but was " + d);
    }
    return d.toNanos();
  }

  /**
   * Sends a POST and waits for the response headers.
   *
   * @throws FirstByteTimeoutException when no headers came within the first-byte timeout
   * @throws ConnectException when no connection could be made
   * @throws IOException on any other failure before the headers
   * @throws InterruptedException when the caller was interrupted while waiting
   */
  public Exchange send(URI uri, String bearer, byte[] body) throws IOException, InterruptedException {
    Request request = client.newRequest(uri)
        .method(HttpMethod.POST)
        // The sweeper enforces the idle timeout; Jetty's own is only a backstop behind it.
        .idleTimeout(TimeUnit.NANOSECONDS.toMillis(Math.max(firstByteNanos, idleNanos)) + 5_000, TimeUnit.MILLISECONDS)
        .headers(h -> {
          h.put(HttpHeader.ACCEPT, "application/json, text/event-stream");
          if (!bearer.isEmpty()) {
            h.put(HttpHeader.AUTHORIZATION, "Bearer " + bearer);
          }
        })
        .body(new BytesRequestContent("application/json", body));
    InputStreamResponseListener listener = new InputStreamResponseListener();
    request.send(listener);
    Response response;
    try {
      response = listener.get(firstByteNanos, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      request.abort(e);
      throw new FirstByteTimeoutException(TimeUnit.NANOSECONDS.toMillis(firstByteNanos));
    } catch (InterruptedException e) {
      request.abort(e);
      throw e;
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ConnectException ce) {
        throw ce;
      }
      throw new IOException(cause == null ? e.toString() : cause.toString(), cause);
    }
    Exchange exchange = new Exchange(request, response, listener.getInputStream());
    open.add(exchange);
    return exchange;
  }

  private void sweep() {
    long now = System.nanoTime();
    for (Exchange e : open) {
      if (now - e.lastProgress > idleNanos) {
        e.timedOut = true;
        e.request.abort(new UpstreamIdleTimeoutException());
        open.remove(e);
      }
    }
  }

  /** How many exchanges are reading their body now. */
  int openExchanges() {
    return open.size();
  }

  @Override
  public void close() {
    sweeper.cancel(false);
    try {
      client.stop();
    } catch (Exception e) {
      // Stopping aborts what is in flight; nothing is left to release.
    }
  }

  /** One upstream response: its status and its body, read with the idle timeout. */
  public final class Exchange implements AutoCloseable {
    private final Request request;
    private final Response response;
    private final InputStream body;
    volatile long lastProgress = System.nanoTime();
    volatile boolean timedOut;

    private Exchange(Request request, Response response, InputStream in) {
      this.request = request;
      this.response = response;
      this.body = new InputStream() {
        @Override
        public int read() throws IOException {
          byte[] one = new byte[1];
          int n = read(one, 0, 1);
          return n == -1 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
          int n;
          try {
            n = in.read(b, off, len);
          } catch (IOException e) {
            if (timedOut) {
              throw new UpstreamIdleTimeoutException();
            }
            throw e;
          }
          if (timedOut) {
            throw new UpstreamIdleTimeoutException();
          }
          lastProgress = System.nanoTime();
          return n;
        }

        @Override
        public void close() throws IOException {
          in.close();
        }
      };
    }

    public int status() {
      return response.getStatus();
    }

    /** The response body; a read that waits longer than the idle timeout throws {@link UpstreamIdleTimeoutException}. */
    public InputStream body() {
      return body;
    }

    /** Ends the exchange; a body not read to its end is aborted (its connection is not reused). */
    @Override
    public void close() {
      open.remove(this);
      try {
        body.close();
      } catch (IOException ignored) {
        // Closing aborts an unfinished response; there is nothing else to release.
      }
    }
  }

  /** No response headers within the first-byte timeout. */
  public static final class FirstByteTimeoutException extends IOException {
    private static final long serialVersionUID = 1L;

    FirstByteTimeoutException(long millis) {
      super("the upstream did not answer within " + millis + " ms");
    }
  }

  /** No body bytes within the idle timeout. */
  public static final class UpstreamIdleTimeoutException extends IOException {
    private static final long serialVersionUID = 1L;

    UpstreamIdleTimeoutException() {
      super("no data from the upstream within the idle timeout");
    }
  }
}

package dev.creditgate.gateway.internal;

import dev.creditgate.Checks;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.ProxyAuthenticationProtocolHandler;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.client.WWWAuthenticationProtocolHandler;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP/1.1 client for upstream calls (Jetty's, with pooled keep-alive connections and TLS).
 *
 * <p>Every exchange is bounded twice: {@link #send} waits at most the first-byte timeout for the
 * response headers, and each {@link Exchange#body() body} read at most the idle timeout for its
 * next bytes. A read records when it started waiting; one sweeper task checks the open exchanges a
 * few times per idle timeout and aborts those waiting too long, so a read costs no timer of its own
 * (a streamed answer has one read per token).
 */
public final class UpstreamClient implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(UpstreamClient.class);

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
  public UpstreamClient(
      Duration connectTimeout,
      Duration firstByteTimeout,
      Duration idleTimeout,
      ScheduledExecutorService timer) {
    this.firstByteNanos = Checks.requirePositive("firstByteTimeout", firstByteTimeout).toNanos();
    this.idleNanos = Checks.requirePositive("idleTimeout", idleTimeout).toNanos();
    Checks.requirePositive("connectTimeout", connectTimeout);
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
    // A 401 or 407 is an answer to relay, not a challenge to answer. Jetty's authentication
    // handlers (start adds them) failed the body of a 401 without WWW-Authenticate, and the
    // client got a 504 for an upstream refusing the gateway's key.
    client.getProtocolHandlers().remove(WWWAuthenticationProtocolHandler.NAME);
    client.getProtocolHandlers().remove(ProxyAuthenticationProtocolHandler.NAME);
    long sweepNanos =
        Math.clamp(
            Math.min(firstByteNanos, idleNanos) / 8,
            TimeUnit.MILLISECONDS.toNanos(10),
            TimeUnit.MILLISECONDS.toNanos(250));
    this.sweeper =
        timer.scheduleWithFixedDelay(this::sweep, sweepNanos, sweepNanos, TimeUnit.NANOSECONDS);
  }

  /**
   * Sends a POST and waits for the response headers.
   *
   * @param headers the request's headers besides its body's type (the upstream's key, say)
   * @throws FirstByteTimeoutException when no headers came within the first-byte timeout
   * @throws ConnectException when no connection could be made
   * @throws IOException on any other failure before the headers
   * @throws InterruptedException when the caller was interrupted while waiting
   */
  public Exchange send(URI uri, Map<String, String> headers, byte[] body)
      throws IOException, InterruptedException {
    Request request =
        client
            .newRequest(uri)
            .method(HttpMethod.POST)
            // The sweeper enforces the idle timeout; Jetty's own is only a backstop behind it.
            .idleTimeout(
                TimeUnit.NANOSECONDS.toMillis(Math.max(firstByteNanos, idleNanos)) + 5_000,
                TimeUnit.MILLISECONDS)
            .headers(
                h -> {
                  h.put(HttpHeader.ACCEPT, "application/json, text/event-stream");
                  headers.forEach(h::put);
                })
            .body(new BytesRequestContent("application/json", body));
    BodyListener listener = new BodyListener();
    Exchange exchange = new Exchange(request, listener);
    // The sweeper enforces the first-byte timeout too: a timed wait here would cost every call a
    // timer set and cancelled (for a virtual thread, two hand-offs to the JDK's delay scheduler).
    exchange.limitNanos = firstByteNanos;
    exchange.waitingSince = System.nanoTime();
    open.add(exchange);
    request.send(listener);
    try {
      exchange.response = listener.headers.get();
    } catch (InterruptedException e) {
      open.remove(exchange);
      request.abort(e);
      throw e;
    } catch (ExecutionException e) {
      open.remove(exchange);
      if (exchange.timedOut) {
        throw new FirstByteTimeoutException(TimeUnit.NANOSECONDS.toMillis(firstByteNanos));
      }
      Throwable cause = e.getCause();
      if (cause instanceof ConnectException ce) {
        throw ce;
      }
      throw new IOException(cause == null ? e.toString() : cause.toString(), cause);
    } finally {
      exchange.waitingSince = Exchange.NOT_WAITING;
    }
    exchange.limitNanos = idleNanos;
    return exchange;
  }

  private void sweep() {
    long now = System.nanoTime();
    for (Exchange e : open) {
      long since = e.waitingSince;
      if (since != Exchange.NOT_WAITING && now - since > e.limitNanos) {
        e.timedOut = true;
        open.remove(e);
        try {
          e.request.abort(
              e.response == null
                  ? new FirstByteTimeoutException(TimeUnit.NANOSECONDS.toMillis(firstByteNanos))
                  : new UpstreamIdleTimeoutException());
        } catch (RuntimeException failure) {
          // An exception here would cancel the sweeper for good (scheduleWithFixedDelay) and leave
          // every later read bounded only by Jetty's backstop.
          LOG.warn("aborting a stalled upstream call failed: {}", failure.toString());
        }
      }
    }
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

    /** Set once the headers came. */
    private volatile Response response;

    private final InputStream body;
    static final long NOT_WAITING = Long.MIN_VALUE;

    /**
     * How long a wait may last: the first-byte timeout until the headers came, then the idle
     * timeout.
     */
    volatile long limitNanos;

    /**
     * When the reader started waiting for bytes, or {@link #NOT_WAITING}. Only time spent waiting
     * on the upstream counts as idle: a reader busy writing to a slow client is not.
     */
    volatile long waitingSince = NOT_WAITING;

    volatile boolean timedOut;

    private Exchange(Request request, BodyListener listener) {
      this.request = request;
      this.body =
          new InputStream() {
            @Override
            public int read() throws IOException {
              byte[] one = new byte[1];
              int n = read(one, 0, 1);
              return n == -1 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
              waitingSince = System.nanoTime();
              try {
                return listener.read(b, off, len);
              } catch (IOException e) {
                if (timedOut) {
                  throw new UpstreamIdleTimeoutException();
                }
                throw e;
              } finally {
                waitingSince = NOT_WAITING;
              }
            }

            @Override
            public int available() {
              return listener.available();
            }

            @Override
            public void close() {
              if (listener.abandon()) {
                request.abort(new IOException("the response body was closed before its end"));
              }
            }
          };
    }

    public int status() {
      return response.getStatus();
    }

    /**
     * The body's declared length (Content-Length), or -1 when the upstream did not declare a usable
     * one.
     */
    public long contentLength() {
      try {
        return response.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
      } catch (NumberFormatException e) {
        return -1;
      }
    }

    /**
     * The response body; a read that waits longer than the idle timeout throws {@link
     * UpstreamIdleTimeoutException}.
     */
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

  /**
   * Receives the response for a blocking reader. Unlike Jetty's {@code
   * InputStreamResponseListener}, which hands the reader one HTTP chunk at a time and asks the
   * connection for the next only after the reader took it, this one copies chunks into a queue and
   * keeps asking while less than {@link #MAX_QUEUED_BYTES} wait, and a read drains everything
   * queued: a burst of small SSE chunks that arrived together is taken in one wake-up and passed on
   * in one write.
   */
  static final class BodyListener implements Response.Listener {
    /** Bytes received and not yet read beyond which the connection is not asked for more. */
    static final int MAX_QUEUED_BYTES = 256 * 1024;

    final CompletableFuture<Response> headers = new CompletableFuture<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private int headOffset;
    private int queuedBytes;
    private Runnable pendingDemand;
    private boolean ended;
    private boolean abandoned;
    private Throwable failure;

    @Override
    public void onHeaders(Response response) {
      headers.complete(response);
    }

    @Override
    public void onContent(Response response, Content.Chunk chunk, Runnable demander) {
      ByteBuffer buf = chunk.getByteBuffer();
      int n = buf.remaining();
      boolean demandNow;
      lock.lock();
      try {
        if (n > 0 && !abandoned) {
          byte[] copy = new byte[n];
          buf.get(copy);
          queue.add(copy);
          queuedBytes += n;
          arrived.signal();
        }
        demandNow = queuedBytes < MAX_QUEUED_BYTES || abandoned;
        if (!demandNow) {
          pendingDemand = demander;
        }
      } finally {
        lock.unlock();
      }
      if (demandNow) {
        demander.run();
      }
    }

    @Override
    public void onSuccess(Response response) {
      end(null);
    }

    @Override
    public void onFailure(Response response, Throwable failure) {
      end(failure);
    }

    @Override
    public void onComplete(Result result) {
      Throwable f = result.getFailure();
      if (!headers.isDone()) {
        headers.completeExceptionally(
            f != null ? f : new IOException("the upstream closed without a response"));
      }
      end(f);
    }

    private void end(Throwable f) {
      lock.lock();
      try {
        if (!ended) {
          ended = true;
          failure = f;
        }
        arrived.signalAll();
      } finally {
        lock.unlock();
      }
    }

    /** Blocks until bytes are queued or the body ended; returns as many queued bytes as fit. */
    int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      Runnable demand = null;
      int n = 0;
      lock.lock();
      try {
        while (queue.isEmpty() && !ended && !abandoned) {
          arrived.awaitUninterruptibly();
        }
        if (abandoned) {
          throw new IOException("the response body was closed");
        }
        while (n < len && !queue.isEmpty()) {
          byte[] head = queue.peek();
          int take = Math.min(len - n, head.length - headOffset);
          System.arraycopy(head, headOffset, b, off + n, take);
          n += take;
          headOffset += take;
          if (headOffset == head.length) {
            queue.poll();
            headOffset = 0;
          }
        }
        queuedBytes -= n;
        if (pendingDemand != null && queuedBytes < MAX_QUEUED_BYTES) {
          demand = pendingDemand;
          pendingDemand = null;
        }
        if (n == 0) {
          if (failure != null) {
            throw failure instanceof IOException io
                ? io
                : new IOException(failure.toString(), failure);
          }
          return -1;
        }
      } finally {
        lock.unlock();
      }
      if (demand != null) {
        demand.run();
      }
      return n;
    }

    int available() {
      lock.lock();
      try {
        return queuedBytes;
      } finally {
        lock.unlock();
      }
    }

    /** Drops what is queued; true when the body had not ended (the exchange must be aborted). */
    boolean abandon() {
      Runnable demand;
      boolean unfinished;
      lock.lock();
      try {
        abandoned = true;
        unfinished = !ended;
        queue.clear();
        queuedBytes = 0;
        demand = pendingDemand;
        pendingDemand = null;
        arrived.signalAll();
      } finally {
        lock.unlock();
      }
      if (demand != null) {
        demand.run();
      }
      return unfinished;
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

package dev.creditgate.bench.load;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * One keep-alive HTTP/1.1 connection over a blocking socket: the cheapest client that still reads
 * every response to its end (content length or chunked), so the load tool costs little CPU next to
 * the servers it measures on the same machine. Not thread-safe: one per worker.
 */
final class RawHttpConnection implements Closeable {

  /** What the load tool needs from a response. */
  record Response(int status, long bodyBytes, long headersAtNanos, boolean endsWithDone) {}

  private static final byte[] DONE_TAIL = "[DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

  private final InetSocketAddress address;
  private final int timeoutMillis;
  private final byte[] lineBuffer = new byte[8192];
  private final byte[] skipBuffer = new byte[16384];
  private final byte[] tail = new byte[DONE_TAIL.length];
  private int tailFill;
  private Socket socket;
  private InputStream in;
  private OutputStream out;
  private boolean reused;
  private long reconnects;

  RawHttpConnection(InetSocketAddress address, int timeoutMillis) {
    this.address = address;
    this.timeoutMillis = timeoutMillis;
  }

  /** Connections opened again after the server closed an idle one. */
  long reconnects() {
    return reconnects;
  }

  /**
   * Sends one request and reads the whole response. A request that fails on a reused connection
   * before any response byte arrived is sent once more on a new connection: the server closed it
   * while idle, as keep-alive servers may, and had not seen the request.
   */
  Response exchange(byte[] request) throws IOException {
    if (socket != null && reused) {
      try {
        return attempt(request);
      } catch (EmptyResponse e) {
        close();
        reconnects++;
      }
    }
    try {
      return attempt(request);
    } catch (EmptyResponse e) {
      close();
      throw new EOFException("connection closed before any response byte");
    }
  }

  private Response attempt(byte[] request) throws IOException {
    if (socket == null) {
      connect();
    }
    try {
      out.write(request);
      out.flush();
    } catch (IOException e) {
      throw new EmptyResponse();
    }
    int first;
    try {
      first = in.read();
    } catch (IOException e) {
      if (e instanceof java.net.SocketTimeoutException) {
        close();
        throw e;
      }
      throw new EmptyResponse();
    }
    if (first < 0) {
      throw new EmptyResponse();
    }
    try {
      return readResponse(first);
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  private Response readResponse(int first) throws IOException {
    String statusLine = readLine(first);
    long headersAt;
    if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12) {
      throw new IOException("bad status line: " + statusLine);
    }
    int status = Integer.parseInt(statusLine.substring(9, 12));
    long contentLength = -1;
    boolean chunked = false;
    boolean closeAfter = statusLine.startsWith("HTTP/1.0");
    String line;
    while (!(line = readLine(in.read())).isEmpty()) {
      int colon = line.indexOf(':');
      if (colon <= 0) {
        continue;
      }
      String name = line.substring(0, colon).trim();
      String value = line.substring(colon + 1).trim();
      if (name.equalsIgnoreCase("content-length")) {
        contentLength = Long.parseLong(value);
      } else if (name.equalsIgnoreCase("transfer-encoding")) {
        chunked = value.toLowerCase().contains("chunked");
      } else if (name.equalsIgnoreCase("connection")) {
        closeAfter = value.equalsIgnoreCase("close");
      }
    }
    headersAt = System.nanoTime();
    tailFill = 0;
    long bodyBytes;
    if (chunked) {
      bodyBytes = 0;
      while (true) {
        String sizeLine = readLine(in.read());
        int semicolon = sizeLine.indexOf(';');
        long size =
            Long.parseLong(
                (semicolon >= 0 ? sizeLine.substring(0, semicolon) : sizeLine).trim(), 16);
        if (size == 0) {
          while (!readLine(in.read()).isEmpty()) {
            // Trailers carry nothing the load tool needs.
          }
          break;
        }
        skip(size);
        bodyBytes += size;
        if (!readLine(in.read()).isEmpty()) {
          throw new IOException("chunk not followed by CRLF");
        }
      }
    } else if (contentLength >= 0) {
      skip(contentLength);
      bodyBytes = contentLength;
    } else {
      bodyBytes = skip(Long.MAX_VALUE);
      closeAfter = true;
    }
    reused = true;
    if (closeAfter) {
      close();
    }
    return new Response(status, bodyBytes, headersAt, endsWith(DONE_TAIL));
  }

  private void connect() throws IOException {
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true);
      s.setSoTimeout(timeoutMillis);
      s.connect(address, timeoutMillis);
    } catch (IOException e) {
      s.close();
      throw e;
    }
    socket = s;
    in = new BufferedInputStream(s.getInputStream(), 16384);
    out = new BufferedOutputStream(s.getOutputStream(), 8192);
    reused = false;
  }

  /** Reads until n bytes or, for Long.MAX_VALUE, end of stream; keeps the last few bytes. */
  private long skip(long n) throws IOException {
    long read = 0;
    while (read < n) {
      int want = (int) Math.min(skipBuffer.length, n - read);
      int got = in.read(skipBuffer, 0, want);
      if (got < 0) {
        if (n == Long.MAX_VALUE) {
          return read;
        }
        throw new EOFException("response body ended after " + read + " of " + n + " bytes");
      }
      keepTail(got);
      read += got;
    }
    return read;
  }

  private void keepTail(int got) {
    int keep = Math.min(got, tail.length);
    int shift = Math.min(tailFill, tail.length - keep);
    System.arraycopy(tail, tailFill - shift, tail, 0, shift);
    System.arraycopy(skipBuffer, got - keep, tail, shift, keep);
    tailFill = shift + keep;
  }

  private boolean endsWith(byte[] suffix) {
    if (tailFill < suffix.length) {
      return false;
    }
    for (int i = 0; i < suffix.length; i++) {
      if (tail[tailFill - suffix.length + i] != suffix[i]) {
        return false;
      }
    }
    return true;
  }

  private String readLine(int first) throws IOException {
    int b = first;
    int n = 0;
    while (true) {
      if (b < 0) {
        throw new EOFException("connection closed in the middle of a response");
      }
      if (b == '\n') {
        break;
      }
      if (n == lineBuffer.length) {
        throw new IOException("response line longer than " + lineBuffer.length + " bytes");
      }
      lineBuffer[n++] = (byte) b;
      b = in.read();
    }
    if (n > 0 && lineBuffer[n - 1] == '\r') {
      n--;
    }
    return new String(lineBuffer, 0, n, StandardCharsets.ISO_8859_1);
  }

  @Override
  public void close() {
    if (socket != null) {
      try {
        socket.close();
      } catch (IOException ignored) {
        // Closing a broken socket has nothing left to report.
      }
      socket = null;
      in = null;
      out = null;
    }
  }

  /** The server closed the connection before answering; safe to retry once on a new one. */
  private static final class EmptyResponse extends IOException {
    EmptyResponse() {
      super(null, null);
    }
  }
}

package dev.creditgate.sim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One line per chat completion the simulator took on (a valid request it starts answering): the
 * request's {@code user} field, or {@code -}. Written and flushed before the answer, so a caller
 * that dies during the call still finds it; for fault drills that compare, call by call, what the
 * upstream served with what was charged. Off unless a file is given.
 */
final class RequestLog implements AutoCloseable {

  /** Logs nothing. */
  static final RequestLog NONE = new RequestLog(null);

  /** Longest {@code user} value logged; longer ones are cut. */
  static final int MAX_USER_CHARS = 200;

  private final Writer out;

  private RequestLog(Writer out) {
    this.out = out;
  }

  /** Appends to {@code file}, creating it. */
  static RequestLog open(Path file) {
    try {
      return new RequestLog(
          Files.newBufferedWriter(
              file,
              StandardCharsets.UTF_8,
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.APPEND));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the request log " + file, e);
    }
  }

  /** Records a request taken on; its {@code user} may be null. */
  void taken(String user) {
    if (out == null) {
      return;
    }
    String value = user == null || user.isEmpty() ? "-" : user;
    if (value.length() > MAX_USER_CHARS) {
      value = value.substring(0, MAX_USER_CHARS);
    }
    // One request, one line, whatever the value holds.
    value = value.replace('\n', ' ').replace('\r', ' ');
    synchronized (this) {
      try {
        out.write(value);
        out.write('\n');
        out.flush();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write the request log", e);
      }
    }
  }

  @Override
  public void close() {
    if (out == null) {
      return;
    }
    synchronized (this) {
      try {
        out.close();
      } catch (IOException e) {
        // Closing: nothing more is written.
      }
    }
  }
}

package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class BodiesTest {

  /** Hands out at most {@code chunk} bytes per read, as a network stream does. */
  private static InputStream trickle(byte[] body, int chunk) {
    return new ByteArrayInputStream(body) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, chunk));
      }
    };
  }

  private static byte[] body(int length) {
    byte[] b = new byte[length];
    for (int i = 0; i < length; i++) {
      b[i] = (byte) (i * 31 + 7);
    }
    return b;
  }

  @Property(tries = 500)
  void readsEveryBodyWithinTheLimitWhateverItsDeclaredLength(
      @ForAll @IntRange(max = 20_000) int length,
      @ForAll @IntRange(min = -1, max = 30_000) int declared,
      @ForAll @IntRange(min = 1, max = 9_000) int chunk)
      throws IOException {
    byte[] body = body(length);
    assertThat(Bodies.readAll(trickle(body, chunk), 20_000, declared)).isEqualTo(body);
  }

  @Property(tries = 300)
  void aBodyOverTheLimitIsRefusedWhateverItsDeclaredLength(
      @ForAll @IntRange(min = 1, max = 5_000) int over,
      @ForAll @IntRange(min = -1, max = 30_000) int declared,
      @ForAll @IntRange(min = 1, max = 9_000) int chunk) {
    byte[] body = body(10_000 + over);
    assertThatThrownBy(() -> Bodies.readAll(trickle(body, chunk), 10_000, declared))
        .isInstanceOf(Bodies.TooLargeException.class);
  }

  @Test
  void aBodyOfItsDeclaredLengthIsReadWhole() throws IOException {
    byte[] body = body(3_000);
    byte[] read = Bodies.readAll(trickle(body, 700), 10_000, 3_000);
    assertThat(read).hasSize(3_000).isEqualTo(body);
  }

  @Test
  void anEmptyBodyIsEmpty() throws IOException {
    assertThat(Bodies.readAll(InputStream.nullInputStream(), 10, -1)).isEmpty();
    assertThat(Bodies.readAll(InputStream.nullInputStream(), 10, 0)).isEmpty();
    assertThat(Bodies.readAll(InputStream.nullInputStream(), 0, 5)).isEmpty();
  }

  @Test
  void aBodyOfExactlyTheLimitIsAccepted() throws IOException {
    byte[] body = body(Bodies.UNKNOWN_LENGTH_BUFFER * 3);
    assertThat(Bodies.readAll(trickle(body, 1000), body.length, -1)).isEqualTo(body);
    assertThatThrownBy(() -> Bodies.readAll(trickle(body, 1000), body.length - 1, -1))
        .isInstanceOf(Bodies.TooLargeException.class);
  }
}

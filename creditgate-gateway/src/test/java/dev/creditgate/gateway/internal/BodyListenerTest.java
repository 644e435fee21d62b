package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.gateway.internal.UpstreamClient.BodyListener;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.io.Content;
import org.junit.jupiter.api.Test;

/**
 * The upstream body listener: bursts are read at once, the queue is bounded, failures reach the
 * reader.
 */
class BodyListenerTest {

  private static Content.Chunk chunk(String s) {
    return Content.Chunk.from(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)), false);
  }

  @Test
  void oneReadTakesEveryChunkAlreadyQueued() throws IOException {
    BodyListener l = new BodyListener();
    AtomicInteger demands = new AtomicInteger();
    l.onContent(null, chunk("data: a\n\n"), demands::incrementAndGet);
    l.onContent(null, chunk("data: b\n\n"), demands::incrementAndGet);
    l.onContent(null, chunk("data: c\n\n"), demands::incrementAndGet);
    l.onSuccess(null);
    byte[] buf = new byte[1024];
    int n = l.read(buf, 0, buf.length);
    assertThat(new String(buf, 0, n, StandardCharsets.UTF_8))
        .isEqualTo("data: a\n\ndata: b\n\ndata: c\n\n");
    assertThat(demands).hasValue(3);
    assertThat(l.read(buf, 0, buf.length)).isEqualTo(-1);
  }

  @Test
  void aReadSmallerThanTheQueueLeavesTheRestInOrder() throws IOException {
    BodyListener l = new BodyListener();
    l.onContent(null, chunk("abcdef"), () -> {});
    l.onContent(null, chunk("ghij"), () -> {});
    l.onSuccess(null);
    byte[] buf = new byte[4];
    StringBuilder out = new StringBuilder();
    int n;
    while ((n = l.read(buf, 0, buf.length)) != -1) {
      out.append(new String(buf, 0, n, StandardCharsets.UTF_8));
    }
    assertThat(out).hasToString("abcdefghij");
  }

  @Test
  void stopsAskingForMoreWhileTheQueueIsFullAndAsksAgainOnceItIsRead() throws IOException {
    BodyListener l = new BodyListener();
    AtomicInteger demands = new AtomicInteger();
    byte[] big = new byte[BodyListener.MAX_QUEUED_BYTES];
    l.onContent(null, Content.Chunk.from(ByteBuffer.wrap(big), false), demands::incrementAndGet);
    assertThat(demands).as("queue full: no demand").hasValue(0);
    byte[] buf = new byte[1024];
    assertThat(l.read(buf, 0, buf.length)).isEqualTo(1024);
    assertThat(demands).as("read below the bound: the held demand runs").hasValue(1);
  }

  @Test
  void aReaderWaitingForBytesGetsTheFailure() throws Exception {
    BodyListener l = new BodyListener();
    l.onContent(null, chunk("partial"), () -> {});
    CompletableFuture<String> reader =
        CompletableFuture.supplyAsync(
            () -> {
              byte[] buf = new byte[64];
              try {
                int n = l.read(buf, 0, buf.length);
                l.read(buf, 0, buf.length);
                return "no failure after " + n;
              } catch (IOException e) {
                return e.getMessage();
              }
            });
    Thread.sleep(100);
    assertThat(reader).isNotDone();
    l.onFailure(null, new IOException("connection reset"));
    assertThat(reader.get(5, TimeUnit.SECONDS)).isEqualTo("connection reset");
  }

  @Test
  void abandoningDropsTheQueueReleasesAHeldDemandAndFailsLaterReads() {
    BodyListener l = new BodyListener();
    AtomicInteger demands = new AtomicInteger();
    l.onContent(
        null,
        Content.Chunk.from(ByteBuffer.wrap(new byte[BodyListener.MAX_QUEUED_BYTES]), false),
        demands::incrementAndGet);
    assertThat(l.abandon()).as("body not ended: the exchange must be aborted").isTrue();
    assertThat(demands).hasValue(1);
    assertThat(l.available()).isZero();
    assertThatThrownBy(() -> l.read(new byte[8], 0, 8)).isInstanceOf(IOException.class);
  }
}

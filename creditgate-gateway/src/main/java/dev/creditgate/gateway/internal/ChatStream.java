package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A chat completion stream ({@code data:} chunks ending with {@code data: [DONE]}): the usage and
 * output are read by an {@link SseScanner}; the usage-only chunk the gateway asked for is taken out
 * ({@link UsageChunkFilter}) and, for a client that asked for usage, written with the charge once
 * the call is settled; the closing {@code [DONE]} is held until then ({@link DoneHoldback}).
 */
final class ChatStream implements AnswerStream {

  private final SseScanner scanner = new SseScanner();
  private final UsageChunkFilter filter = new UsageChunkFilter();
  private final DoneHoldback hold = new DoneHoldback();
  private final boolean clientWantsUsage;

  /** The pieces of output the call pays for. */
  private final long budget;

  private boolean cutOff;

  ChatStream(boolean clientWantsUsage, long budget) {
    this.clientWantsUsage = clientWantsUsage;
    this.budget = budget;
  }

  /**
   * Line by line, so that the line whose output goes past the budget is the first one not relayed.
   */
  @Override
  public void feed(byte[] buf, int off, int len, OutputStream client) throws IOException {
    IOException clientFailure = null;
    int end = off + len;
    int start = off;
    while (start < end && !cutOff) {
      int nl = SseScanner.indexOf(buf, (byte) '\n', start, end);
      int stop = nl < 0 ? end : nl + 1;
      scanner.feed(buf, start, stop - start);
      if (scanner.outputPieces() > budget && !closed()) {
        cutOff = true;
        break;
      }
      if (client != null) {
        byte[] passed = filter.feed(buf, start, stop - start);
        try {
          client.write(passed, 0, hold.pass(passed, 0, passed.length));
        } catch (IOException e) {
          // The client left: the rest of these bytes are still read, for their usage.
          clientFailure = e;
          client = null;
        }
      }
      start = stop;
    }
    if (clientFailure != null) {
      throw clientFailure;
    }
  }

  @Override
  public boolean cutOff() {
    return cutOff;
  }

  @Override
  public void finish(OutputStream client) throws IOException {
    byte[] rest = filter.finish();
    client.write(rest, 0, hold.pass(rest, 0, rest.length));
  }

  @Override
  public UsageParser.Report usageReport() {
    return scanner.usageReport();
  }

  @Override
  public long outputPieces() {
    return scanner.outputPieces();
  }

  @Override
  public boolean closed() {
    return scanner.done() || scanner.closingUsageSeen();
  }

  @Override
  public String text() {
    return scanner.text();
  }

  @Override
  public long textDropped() {
    return scanner.textDropped();
  }

  /**
   * For a client that asked for usage, the usage chunk with the credits charged; then the held
   * {@code [DONE]}.
   */
  @Override
  public byte[] end(CallExchange x, SettleUsage.Charge charge) {
    byte[] done = hold.release();
    if (!clientWantsUsage) {
      return done;
    }
    byte[] usage =
        ChargedUsage.streamEvent(
            filter.usageChunk(),
            charge.usage(),
            charge.reported(),
            SettleUsage.charged(x.call, charge.settled()),
            "chatcmpl-" + x.requestId,
            x.route.config().model());
    byte[] out = Arrays.copyOf(usage, usage.length + done.length);
    System.arraycopy(done, 0, out, usage.length, done.length);
    return out;
  }

  /**
   * A chunk that finishes every choice for {@code length}, with the usage charged (whole, as the
   * SDKs' usage type requires) and the credits, then {@code [DONE]}.
   */
  @Override
  public byte[] cutOff(CallExchange x, SettleUsage.Charge charge) {
    ObjectNode chunk = Json.MAPPER.createObjectNode();
    chunk.put("id", "chatcmpl-" + x.requestId);
    chunk.put("object", "chat.completion.chunk");
    chunk.put("created", System.currentTimeMillis() / 1000);
    chunk.put("model", x.route.config().model());
    ArrayNode choices = chunk.putArray("choices");
    long n = Math.max(1, Math.min(ChatRequestRules.MAX_CHOICES, x.request.path("n").asLong(1)));
    for (int i = 0; i < n; i++) {
      ObjectNode choice = choices.addObject();
      choice.put("index", i);
      choice.putObject("delta");
      choice.put("finish_reason", "length");
    }
    ObjectNode usage = ChargedUsage.counts(charge.usage());
    chunk.set("usage", usage);
    SettleUsage.charged(x.call, charge.settled())
        .ifPresent(credits -> usage.put(SettleUsage.CHARGED_FIELD, credits));
    return ("data: " + Json.string(chunk) + "\n\ndata: [DONE]\n\n")
        .getBytes(StandardCharsets.UTF_8);
  }
}

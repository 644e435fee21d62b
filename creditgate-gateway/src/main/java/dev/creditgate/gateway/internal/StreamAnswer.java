package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Ticker;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last step of a streaming call: relays the upstream's events chunk by chunk as they arrive,
 * reading the usage (or, failing that, the text) as they pass; settles the call when the upstream
 * stream ends, however it ends; and only then lets the closing {@code [DONE]} through, so a client
 * never holds a complete stream whose charge a crash could still lose.
 *
 * <p>A client that leaves does not stop the call: the upstream is read to its end (each wait
 * bounded by the idle timeout) to learn the usage. The usage chunk the gateway asked for is taken
 * out of the stream and held; a client that asked for usage gets it after the call is settled, with
 * the credits charged added, just before {@code [DONE]} ({@link ChargedUsage#streamEvent}).
 */
final class StreamAnswer implements ChatStep {

  private static final Logger LOG = LoggerFactory.getLogger(StreamAnswer.class);
  private static final int ERROR_BODY_LIMIT = 1024 * 1024;

  private final SettleUsage settle;
  private final GatewayMetrics metrics;
  private final Ticker ticker;

  StreamAnswer(SettleUsage settle, GatewayMetrics metrics, Ticker ticker) {
    this.settle = settle;
    this.metrics = metrics;
    this.ticker = ticker;
  }

  @Override
  public void process(ChatExchange x, Chain next) {
    if (x.upstream.status() != 200) {
      x.status = relayError(x);
      return;
    }
    x.status = relay(x);
  }

  private int relay(ChatExchange x) {
    String alias = x.alias();
    long budget = x.call.outputBudget();
    SseScanner scanner = new SseScanner();
    UsageChunkFilter filter = new UsageChunkFilter();
    DoneHoldback hold = new DoneHoldback();
    boolean clientGone = false;
    boolean upstreamBroken = false;
    boolean cutOff = false;
    x.ctx.status(200);
    var res = x.ctx.res();
    res.setContentType("text/event-stream; charset=utf-8");
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("X-Accel-Buffering", "no");
    InputStream in = x.upstream.body();
    byte[] buf = new byte[16 * 1024];
    SettleUsage.Charge charge = SettleUsage.Charge.NONE;
    try {
      OutputStream out = null;
      try {
        out = res.getOutputStream();
        res.flushBuffer();
      } catch (IOException e) {
        clientGone = true;
      }
      int n;
      while ((n = in.read(buf)) != -1) {
        scanner.feed(buf, 0, n);
        if (!clientGone) {
          try {
            byte[] passed = filter.feed(buf, 0, n);
            out.write(passed, 0, hold.pass(passed, 0, passed.length));
            out.flush();
          } catch (IOException e) {
            clientGone = true;
            metrics.clientDisconnected(alias);
            LOG.info(
                "client left mid-stream, reading the upstream to its end to charge it,"
                    + " request_id={}",
                x.logRef());
          }
        }
        if (scanner.outputPieces() > budget && !scanner.done() && !scanner.closingUsageSeen()) {
          // More pieces of output than the cap it was sent allows tokens: the upstream ignores its
          // cap, and what follows would be served unpaid (a usage chunk that came before the
          // output, as some providers send the prompt's count, does not end the stream).
          cutOff = true;
          break;
        }
      }
      if (!clientGone && !cutOff) {
        try {
          byte[] rest = filter.finish();
          out.write(rest, 0, hold.pass(rest, 0, rest.length));
          out.flush();
        } catch (IOException e) {
          clientGone = true;
        }
      }
    } catch (IOException e) {
      upstreamBroken = true;
      LOG.warn("upstream stream ended early, request_id={}: {}", x.logRef(), e.getMessage());
    } finally {
      // Whatever ended the stream (even an unexpected exception), what the upstream served is
      // charged.
      metrics.upstreamLatency(alias, "total", ticker.read() - x.upstreamStart);
      if (cutOff) {
        charge = settle.cutOff(x);
      } else if (scanner.usageReport().kind() != UsageParser.Report.Kind.ABSENT
          || scanner.outputPieces() > 0
          || scanner.textDropped() > 0) {
        charge =
            settle.served(
                x,
                scanner.usageReport(),
                scanner.outputPieces(),
                () -> settle.estimate(x.request, scanner.text(), scanner.textDropped()));
      } else {
        // Nothing was generated and nothing reported: a failed call, not charged.
        LOG.warn("stream produced no output and no usage; not charged, request_id={}", x.logRef());
      }
    }
    byte[] held = cutOff ? finalChunk(x, charge) : end(x, filter, charge, hold);
    if (cutOff) {
      metrics.streamCutOff(alias);
      LOG.warn(
          "upstream streamed past the call's output cap; cut off after {} pieces of text,"
              + " request_id={}",
          scanner.outputPieces(),
          x.logRef());
    }
    if (!clientGone && held.length > 0) {
      try {
        res.getOutputStream().write(held);
        res.flushBuffer();
      } catch (IOException e) {
        metrics.clientDisconnected(alias);
      }
    }
    return upstreamBroken ? 502 : 200;
  }

  /**
   * What ends a stream once it is settled: for a client that asked for usage, the usage chunk with
   * the credits charged; then the held {@code [DONE]}.
   */
  private static byte[] end(
      ChatExchange x, UsageChunkFilter filter, SettleUsage.Charge charge, DoneHoldback hold) {
    byte[] done = hold.release();
    if (!x.clientWantsUsage) {
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
   * The end of a stream the gateway cut off: a chunk that finishes every choice for {@code length},
   * with the usage charged (whole, as the SDKs' usage type requires) and the credits, then {@code
   * [DONE]}.
   */
  private static byte[] finalChunk(ChatExchange x, SettleUsage.Charge charge) {
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

  /**
   * An upstream that refused the stream: its error is relayed, and charged only if it reports
   * usage.
   */
  private int relayError(ChatExchange x) {
    byte[] answer;
    try {
      answer = Bodies.readAll(x.upstream.body(), ERROR_BODY_LIMIT, x.upstream.contentLength());
    } catch (IOException e) {
      answer = new byte[0];
    }
    JsonNode parsed = Json.parseOrNull(answer);
    UsageParser.Report report = UsageParser.report(parsed);
    if (report.kind() == UsageParser.Report.Kind.VALID) {
      SettleUsage.Charge charge = settle.served(x, report, 0, report::usage);
      SettleUsage.headers(x.ctx, x.call, charge.settled());
    }
    return UpstreamErrors.relay(x.ctx, x.upstream.status(), parsed, answer);
  }
}

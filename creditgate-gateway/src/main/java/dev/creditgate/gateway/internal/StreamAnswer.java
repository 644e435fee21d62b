package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.Ticker;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last step of a streaming call: relays the upstream's events as they arrive, reading the usage
 * (or, failing that, the text) as they pass ({@link AnswerStream}, one per API); settles the call
 * when the upstream stream ends, however it ends; and only then lets the events that close the
 * stream through (chat's {@code [DONE]}, a response's {@code response.completed}, a message's
 * {@code message_delta} and {@code message_stop}), with the charge, so a client never holds a
 * complete stream whose charge a crash could still lose.
 *
 * <p>A client that leaves does not stop the call: the upstream is read to its end (each wait
 * bounded by the idle timeout) to learn the usage. An upstream that streams more pieces of output
 * than its cap allows tokens is cut off there and the call charged its cap.
 */
final class StreamAnswer implements CallStep {

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
  public void process(CallExchange x, Chain next) {
    if (x.upstream.status() != 200) {
      x.status = relayError(x);
      return;
    }
    x.status = relay(x);
  }

  private int relay(CallExchange x) {
    String alias = x.alias();
    AnswerStream stream = x.api.newStream(x, x.call.outputBudget());
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
        try {
          stream.feed(buf, 0, n, clientGone ? null : out);
          if (!clientGone) {
            out.flush();
          }
        } catch (IOException e) {
          clientGone = true;
          metrics.clientDisconnected(alias);
          LOG.info(
              "client left mid-stream, reading the upstream to its end to charge it,"
                  + " request_id={}",
              x.logRef());
        }
        if (stream.cutOff()) {
          // More pieces of output than the cap it was sent allows tokens: the upstream ignores its
          // cap, and what follows would be served unpaid (a usage that came before the output, as
          // some providers send the prompt's count, does not close the stream).
          cutOff = true;
          break;
        }
      }
      if (!clientGone && !cutOff) {
        try {
          stream.finish(out);
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
      } else if (stream.usageReport().kind() != UsageParser.Report.Kind.ABSENT
          || stream.outputPieces() > 0
          || stream.textDropped() > 0) {
        charge =
            settle.served(
                x,
                stream.usageReport(),
                stream.outputPieces(),
                () -> settle.estimate(x, stream.text(), stream.textDropped()));
      } else {
        // Nothing was generated and nothing reported: a failed call, not charged.
        LOG.warn("stream produced no output and no usage; not charged, request_id={}", x.logRef());
      }
    }
    byte[] held = cutOff ? stream.cutOff(x, charge) : stream.end(x, charge);
    if (cutOff) {
      metrics.streamCutOff(alias);
      LOG.warn(
          "upstream streamed past the call's output cap; cut off after {} pieces of text,"
              + " request_id={}",
          stream.outputPieces(),
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
   * An upstream that refused the stream: its error is relayed, and charged only if it reports
   * usage.
   */
  private int relayError(CallExchange x) {
    byte[] answer;
    try {
      answer = Bodies.readAll(x.upstream.body(), ERROR_BODY_LIMIT, x.upstream.contentLength());
    } catch (IOException e) {
      answer = new byte[0];
    }
    JsonNode parsed = Json.parseOrNull(answer);
    UsageParser.Report report = parsed == null ? UsageParser.Report.ABSENT : x.api.usage(parsed);
    if (report.kind() == UsageParser.Report.Kind.VALID) {
      SettleUsage.Charge charge = settle.served(x, report, 0, report::usage);
      SettleUsage.headers(x.ctx, x.call, charge.settled());
    }
    return UpstreamErrors.relay(x, x.upstream.status(), parsed, answer);
  }
}

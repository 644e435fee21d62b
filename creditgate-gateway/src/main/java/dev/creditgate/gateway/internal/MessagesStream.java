package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.pricing.Usage;
import java.util.ArrayList;
import java.util.List;

/**
 * A Messages API stream: {@code message_start} carries the input's usage, each {@code
 * content_block_delta}'s text, thinking or partial tool input is output, and {@code message_delta}
 * carries the output count (cumulative); it and the {@code message_stop} after it are held until
 * the call is settled, then written with the charge in the {@code message_delta}'s usage. A stream
 * cut off at its cap ends with the open block stopped, a {@code message_delta} whose stop reason is
 * {@code max_tokens}, and {@code message_stop}.
 */
final class MessagesStream extends EventStream {

  private UsageParser.Report start = UsageParser.Report.ABSENT;
  private UsageParser.Report delta = UsageParser.Report.ABSENT;

  /** Whether a {@code message_delta}'s usage carried the input counts too. */
  private boolean deltaHasInput;

  private boolean closed;

  /** The index of the content block open now, or -1. */
  private int openBlock = -1;

  MessagesStream(long budget) {
    super(budget);
  }

  @Override
  Action onEvent(String type, ObjectNode data) {
    switch (type) {
      case "message_start" -> {
        start = MessagesApi.report(data.path("message").get("usage"), true);
        return Action.PASS;
      }
      case "content_block_start" -> {
        openBlock = data.path("index").asInt(0);
        return Action.PASS;
      }
      case "content_block_stop" -> {
        openBlock = -1;
        return Action.PASS;
      }
      case "content_block_delta" -> {
        output(data.path("delta").path("text"));
        output(data.path("delta").path("thinking"));
        output(data.path("delta").path("partial_json"));
        return Action.PASS;
      }
      case "message_delta" -> {
        // One or more, their counts cumulative: the largest of each is the usage.
        UsageParser.Report r = MessagesApi.report(data.get("usage"), false);
        if (r.kind() == UsageParser.Report.Kind.VALID
            && delta.kind() == UsageParser.Report.Kind.VALID) {
          delta = UsageParser.Report.valid(delta.usage().max(r.usage()));
        } else if (delta.kind() != UsageParser.Report.Kind.MALFORMED) {
          delta = r;
        }
        deltaHasInput |= data.path("usage").has("input_tokens");
        closed = true;
        return Action.HOLD;
      }
      case "message_stop" -> {
        closed = true;
        return Action.HOLD;
      }
      default -> {
        return Action.PASS;
      }
    }
  }

  /**
   * The input counts of {@code message_start} with the output of {@code message_delta} (the larger
   * of each count when both carry it); unreadable when either is; absent while neither {@code
   * message_start} nor a {@code message_delta} reported the input.
   */
  @Override
  public UsageParser.Report usageReport() {
    if (start.kind() == UsageParser.Report.Kind.MALFORMED) {
      return start;
    }
    if (delta.kind() == UsageParser.Report.Kind.MALFORMED) {
      return delta;
    }
    if (start.kind() == UsageParser.Report.Kind.ABSENT) {
      return deltaHasInput ? delta : UsageParser.Report.ABSENT;
    }
    Usage usage = start.usage();
    return UsageParser.Report.valid(
        delta.kind() == UsageParser.Report.Kind.VALID ? usage.max(delta.usage()) : usage);
  }

  @Override
  public boolean closed() {
    return closed;
  }

  @Override
  byte[] closing(CallExchange x, SettleUsage.Charge charge, List<Held> held) {
    int last = -1;
    for (int i = 0; i < held.size(); i++) {
      if ("message_delta".equals(held.get(i).type())) {
        last = i;
      }
    }
    List<byte[]> parts = new ArrayList<>(held.size());
    for (int i = 0; i < held.size(); i++) {
      Held h = held.get(i);
      if (i == last) {
        SettleUsage.charged(x.call, charge.settled())
            .ifPresent(
                credits ->
                    ChargedUsage.into(
                        h.data(), charge.usage(), charge.reported(), credits, MessagesApi::counts));
      }
      parts.add(event(h.type(), h.data()));
    }
    return concat(parts);
  }

  @Override
  public byte[] cutOff(CallExchange x, SettleUsage.Charge charge) {
    List<byte[]> parts = new ArrayList<>(3);
    if (openBlock >= 0) {
      ObjectNode stop = Json.MAPPER.createObjectNode();
      stop.put("type", "content_block_stop");
      stop.put("index", openBlock);
      parts.add(event("content_block_stop", stop));
    }
    ObjectNode delta = Json.MAPPER.createObjectNode();
    delta.put("type", "message_delta");
    ObjectNode reason = delta.putObject("delta");
    reason.put("stop_reason", "max_tokens");
    reason.putNull("stop_sequence");
    if (charge.usage() != null) {
      ObjectNode usage = MessagesApi.counts(charge.usage());
      SettleUsage.charged(x.call, charge.settled())
          .ifPresent(credits -> usage.put(SettleUsage.CHARGED_FIELD, credits));
      delta.set("usage", usage);
    }
    parts.add(event("message_delta", delta));
    parts.add(event("message_stop", Json.MAPPER.createObjectNode().put("type", "message_stop")));
    return concat(parts);
  }
}

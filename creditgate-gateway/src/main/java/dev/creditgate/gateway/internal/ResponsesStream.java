package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A Responses API stream: every {@code *.delta} event's text is output; the closing event ({@code
 * response.completed}, {@code response.incomplete} or {@code response.failed}) carries the usage,
 * and is held until the call is settled, then written with the charge in its response's {@code
 * usage}. A stream cut off at its cap ends with a {@code response.incomplete} event made from the
 * response its {@code response.created} announced.
 */
final class ResponsesStream extends EventStream {

  static final Set<String> CLOSING =
      Set.of("response.completed", "response.incomplete", "response.failed");

  /** The response announced by {@code response.created}, for a cut-off's closing event. */
  private ObjectNode announced;

  private long lastSequence = -1;

  ResponsesStream(long budget) {
    super(budget);
  }

  private boolean closed;

  @Override
  Action onEvent(String type, ObjectNode data) {
    lastSequence = Math.max(lastSequence, data.path("sequence_number").asLong(-1));
    if (type.endsWith(".delta")) {
      output(data.path("delta"));
      return Action.PASS;
    }
    if ("response.created".equals(type) && data.get("response") instanceof ObjectNode r) {
      announced = r.deepCopy();
      return Action.PASS;
    }
    if (CLOSING.contains(type)) {
      closed = true;
      usage(UsageParser.reportUsage(data.path("response").get("usage"), ResponsesApi.USAGE));
      return Action.HOLD;
    }
    return Action.PASS;
  }

  @Override
  public boolean closed() {
    return closed;
  }

  @Override
  byte[] closing(CallExchange x, SettleUsage.Charge charge, List<Held> held) {
    List<byte[]> parts = new ArrayList<>(held.size());
    for (Held h : held) {
      if (CLOSING.contains(h.type()) && h.data().get("response") instanceof ObjectNode response) {
        SettleUsage.charged(x.call, charge.settled())
            .ifPresent(
                credits ->
                    ChargedUsage.into(
                        response,
                        charge.usage(),
                        charge.reported(),
                        credits,
                        ResponsesApi::counts));
      }
      parts.add(event(h.type(), h.data()));
    }
    return concat(parts);
  }

  /** A {@code response.incomplete} event, its reason the output cap, with the usage charged. */
  @Override
  public byte[] cutOff(CallExchange x, SettleUsage.Charge charge) {
    ObjectNode response = announced != null ? announced : Json.MAPPER.createObjectNode();
    if (announced == null) {
      response.put("id", "resp_" + x.requestId);
      response.put("object", "response");
      response.put("created_at", System.currentTimeMillis() / 1000);
      response.put("model", x.route.config().model());
      response.putArray("output");
    }
    response.put("status", "incomplete");
    response.putObject("incomplete_details").put("reason", "max_output_tokens");
    if (charge.usage() != null) {
      ObjectNode usage = ResponsesApi.counts(charge.usage());
      SettleUsage.charged(x.call, charge.settled())
          .ifPresent(credits -> usage.put(SettleUsage.CHARGED_FIELD, credits));
      response.set("usage", usage);
    }
    ObjectNode event = Json.MAPPER.createObjectNode();
    event.put("type", "response.incomplete");
    event.put("sequence_number", lastSequence + 1);
    event.set("response", response);
    return event("response.incomplete", event);
  }
}

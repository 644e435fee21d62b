package dev.creditgate.sim;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;

/** {@code GET /v1/models} and {@code GET /v1/models/{id}}: the configured ids, for any protocol. */
final class ModelsEndpoint {

  static final String OWNER = "creditgate-simulator";

  private final SimContext ctx;

  ModelsEndpoint(SimContext ctx) {
    this.ctx = ctx;
  }

  void list(HttpExchange ex) throws IOException {
    if (!authorized(ex)) {
      return;
    }
    ObjectNode list = ctx.mapper.createObjectNode();
    list.put("object", "list");
    ArrayNode data = list.putArray("data");
    for (String id : ctx.models) {
      data.add(model(id));
    }
    ctx.wire.json(ex, 200, list);
  }

  void one(HttpExchange ex, String id) throws IOException {
    if (!authorized(ex)) {
      return;
    }
    if (ctx.models.contains(id)) {
      ctx.wire.json(ex, 200, model(id));
    } else {
      ctx.wire.error(
          ex,
          ErrorShape.OPENAI,
          404,
          "The model '" + id + "' does not exist",
          "model",
          "model_not_found");
    }
  }

  private boolean authorized(HttpExchange ex) throws IOException {
    if (ctx.bearerAuthorized(ex)) {
      return true;
    }
    ctx.refuseBearer(ex);
    return false;
  }

  private ObjectNode model(String id) {
    ObjectNode model = ctx.mapper.createObjectNode();
    model.put("id", id);
    model.put("object", "model");
    model.put("created", 0);
    model.put("owned_by", OWNER);
    return model;
  }
}

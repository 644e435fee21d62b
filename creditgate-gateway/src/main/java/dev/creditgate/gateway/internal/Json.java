package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;

/** The gateway's one JSON mapper and the OpenAI error body. */
public final class Json {

  public static final ObjectMapper MAPPER = JsonMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  static {
    MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(200).build());
  }

  private Json() {
  }

  public static ObjectNode errorBody(ApiError error) {
    ObjectNode root = MAPPER.createObjectNode();
    ObjectNode e = root.putObject("error");
    e.put("message", error.getMessage());
    e.put("type", error.type());
    if (error.param() != null) {
      e.put("param", error.param());
    } else {
      e.putNull("param");
    }
    if (error.code() != null) {
      e.put("code", error.code());
    } else {
      e.putNull("code");
    }
    return root;
  }

  public static byte[] errorBytes(ApiError error) {
    try {
      return MAPPER.writeValueAsBytes(errorBody(error));
    } catch (Exception e) {
      throw new IllegalStateException("cannot serialise an error body", e);
    }
  }
}

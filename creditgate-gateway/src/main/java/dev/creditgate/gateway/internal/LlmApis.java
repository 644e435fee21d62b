package dev.creditgate.gateway.internal;

import dev.creditgate.gateway.Protocol;
import java.util.List;

/** The LLM APIs the gateway serves, each at {@code /v1} plus its upstream path. */
final class LlmApis {

  static final List<LlmApi> ALL =
      List.of(
          ChatApi.INSTANCE, ResponsesApi.INSTANCE, EmbeddingsApi.INSTANCE, MessagesApi.INSTANCE);

  private LlmApis() {}

  /** The gateway's paths of the APIs a protocol serves, such as {@code POST /v1/messages}. */
  static List<String> pathsOf(Protocol protocol) {
    return ALL.stream()
        .filter(api -> api.protocol() == protocol)
        .map(api -> "POST /v1" + api.upstreamPath())
        .toList();
  }
}

package dev.creditgate.bench.load;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The bytes of every request a run sends, built once before it starts: per prompt variant, per key
 * and per kind (plain or streaming), the whole HTTP/1.1 request. A {@code .../responses} URL gets
 * Responses API bodies, any other Chat Completions bodies.
 */
final class RequestTemplates {

  /** Prompts that rotate with the request index. */
  static final int PROMPT_VARIANTS = 64;

  private RequestTemplates() {}

  /** Request bytes per prompt variant: [key * 2 + (stream ? 1 : 0)]. */
  static List<byte[][]> prepare(LoadOptions o) {
    List<byte[][]> variants = new ArrayList<>(PROMPT_VARIANTS);
    int keyCount = Math.max(1, o.keys().size());
    for (int v = 0; v < PROMPT_VARIANTS; v++) {
      byte[][] forKeys = new byte[keyCount * 2][];
      for (int k = 0; k < keyCount; k++) {
        LoadOptions.Key key = o.keys().isEmpty() ? null : o.keys().get(k);
        for (int s = 0; s < 2; s++) {
          URI target = s == 1 ? o.streamUrl() : o.url();
          String path = target.getRawPath().isEmpty() ? "/" : target.getRawPath();
          String hostHeader = target.getHost() + ":" + port(target);
          String body =
              isResponses(target)
                  ? responsesBody(o.model(), o.maxTokens(), v)
                  : body(s == 1 ? o.streamModel() : o.model(), o.maxTokens(), v, s == 1);
          StringBuilder head =
              new StringBuilder()
                  .append("POST ")
                  .append(path)
                  .append(" HTTP/1.1\r\n")
                  .append("Host: ")
                  .append(hostHeader)
                  .append("\r\n")
                  .append("Content-Type: application/json\r\n")
                  .append("Accept: ")
                  .append(s == 1 ? "text/event-stream" : "application/json")
                  .append("\r\n");
          if (key != null) {
            head.append("Authorization: Bearer ").append(key.token()).append("\r\n");
          }
          for (String header : o.headers()) {
            head.append(header).append("\r\n");
          }
          byte[] bodyBytes = body.getBytes(StandardCharsets.UTF_8);
          head.append("Content-Length: ").append(bodyBytes.length).append("\r\n\r\n");
          byte[] headBytes = head.toString().getBytes(StandardCharsets.UTF_8);
          byte[] request = new byte[headBytes.length + bodyBytes.length];
          System.arraycopy(headBytes, 0, request, 0, headBytes.length);
          System.arraycopy(bodyBytes, 0, request, headBytes.length, bodyBytes.length);
          forKeys[k * 2 + s] = request;
        }
      }
      variants.add(forKeys);
    }
    return variants;
  }

  /** Whether {@code url} is the Responses API's ({@code .../responses}). */
  static boolean isResponses(URI url) {
    return url.getRawPath() != null && url.getRawPath().endsWith("/responses");
  }

  static int port(URI url) {
    return url.getPort() > 0 ? url.getPort() : 80;
  }

  private static String prompt(int variant) {
    return "Load test prompt number "
        + variant
        + ": summarise the credit ledger entries for this account in two sentences.";
  }

  /** A Responses API request with the same instructions and prompt as {@link #body}. */
  private static String responsesBody(String model, int maxTokens, int variant) {
    return "{\"model\":\""
        + model
        + "\",\"max_output_tokens\":"
        + maxTokens
        + ",\"instructions\":\"You are a concise assistant.\",\"input\":\""
        + prompt(variant)
        + "\"}";
  }

  private static String body(String model, int maxTokens, int variant, boolean stream) {
    String prompt = prompt(variant);
    return "{\"model\":\""
        + model
        + "\",\"max_tokens\":"
        + maxTokens
        + ",\"messages\":[{\"role\":\"system\",\"content\":\"You are a concise assistant.\"},"
        + "{\"role\":\"user\",\"content\":\""
        + prompt
        + "\"}]"
        + (stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "")
        + "}";
  }
}

package dev.creditgate.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An OpenAI-protocol upstream on a real port for the gateway's tests (the one permitted mock: the
 * LLM provider). Answers {@code /v1/chat/completions} with fixed usage, plain or streamed, and
 * records every request; a test can hold a stream before its last chunks with {@link #holdStream}.
 */
final class TestUpstream implements AutoCloseable {

  static final long PROMPT = 1200;
  static final long COMPLETION = 340;
  static final long CACHED = 200;
  static final long REASONING = 40;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpServer server;
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  final List<JsonNode> requests = new CopyOnWriteArrayList<>();
  final List<String> authorizations = new CopyOnWriteArrayList<>();
  final AtomicInteger streamsFinished = new AtomicInteger();
  volatile boolean reportUsage = true;
  volatile int failStatus;

  /** The body of a {@link #failStatus} answer; null: a fixed OpenAI-style error. */
  volatile String failBody;

  volatile int chunks = 5;
  volatile CountDownLatch hold;
  volatile CountDownLatch firstChunkSent;
  volatile long chunkDelayMillis;
  volatile long headerDelayMillis;

  /** A plain answer sends its headers and half its body, then waits this long before the rest. */
  volatile long bodyStallMillis;

  /** The {@code usage} value answers carry, as raw JSON; null: the fixed usage of the constants. */
  volatile String usage;

  /**
   * When set, a stream sends exactly these events (each the JSON after {@code data: }) and then
   * drops the connection, without {@code [DONE]}: a provider that broke mid-answer.
   */
  volatile List<String> brokenStream;

  TestUpstream() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(executor);
    server.createContext("/v1/chat/completions", this::chat);
    server.start();
  }

  /** Back to the defaults with nothing recorded. */
  void reset() {
    requests.clear();
    authorizations.clear();
    streamsFinished.set(0);
    reportUsage = true;
    failStatus = 0;
    failBody = null;
    chunks = 5;
    hold = null;
    firstChunkSent = null;
    chunkDelayMillis = 0;
    headerDelayMillis = 0;
    bodyStallMillis = 0;
    usage = null;
    brokenStream = null;
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
  }

  /** Streams stop after their first chunk until the returned latch is released. */
  CountDownLatch holdStream() {
    hold = new CountDownLatch(1);
    firstChunkSent = new CountDownLatch(1);
    return hold;
  }

  private void chat(HttpExchange ex) throws IOException {
    List<String> broken = brokenStream;
    if (broken != null) {
      requests.add(JSON.readTree(ex.getRequestBody()));
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      for (String e : broken) {
        event(ex.getResponseBody(), e);
      }
      // Escaping the handler without closing the exchange: the server drops the connection
      // without the body's last chunk.
      throw new IllegalStateException("the test upstream breaks the stream");
    }
    try (ex) {
      JsonNode body = JSON.readTree(ex.getRequestBody());
      requests.add(body);
      if (headerDelayMillis > 0) {
        sleep(headerDelayMillis);
      }
      authorizations.add(String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
      if (failStatus != 0) {
        String error =
            failBody != null
                ? failBody
                : "{\"error\":{\"message\":\"upstream says no\",\"type\":\"server_error\",\"code\":\"boom\"}}";
        byte[] err = error.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(failStatus, err.length);
        ex.getResponseBody().write(err);
        return;
      }
      String model = body.path("model").asText();
      if (body.path("stream").asBoolean(false)) {
        stream(ex, model, body.path("stream_options").path("include_usage").asBoolean(false));
      } else {
        plain(ex, model);
      }
    }
  }

  private void plain(HttpExchange ex, String model) throws IOException {
    String usage = reportUsage ? ",\"usage\":" + usageJson() : "";
    byte[] out =
        ("{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\""
                + model
                + "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello from the test"
                + " upstream.\"},\"finish_reason\":\"stop\"}]"
                + usage
                + "}")
            .getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(200, out.length);
    if (bodyStallMillis > 0) {
      ex.getResponseBody().write(out, 0, out.length / 2);
      ex.getResponseBody().flush();
      sleep(bodyStallMillis);
      ex.getResponseBody().write(out, out.length / 2, out.length - out.length / 2);
      return;
    }
    ex.getResponseBody().write(out);
  }

  private void stream(HttpExchange ex, String model, boolean includeUsage) throws IOException {
    ex.getResponseHeaders().add("Content-Type", "text/event-stream");
    ex.sendResponseHeaders(200, 0);
    OutputStream out = ex.getResponseBody();
    try {
      for (int i = 0; i < chunks; i++) {
        String content = i == 0 ? "Hello" : " word" + i;
        event(
            out,
            "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\""
                + model
                + "\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
                + content
                + "\"},\"finish_reason\":null}]}");
        if (i == 0 && hold != null) {
          firstChunkSent.countDown();
          await(hold);
        } else if (chunkDelayMillis > 0) {
          sleep(chunkDelayMillis);
        }
      }
      event(
          out,
          "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\""
              + model
              + "\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}");
      if (includeUsage && reportUsage) {
        event(
            out,
            "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\""
                + model
                + "\",\"choices\":[],\"usage\":"
                + usageJson()
                + "}");
      }
      out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
    } finally {
      streamsFinished.incrementAndGet();
    }
  }

  private static void event(OutputStream out, String json) throws IOException {
    out.write(("data: " + json + "\n\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  String usageJson() {
    String given = usage;
    return given != null ? given : fixedUsageJson();
  }

  static String fixedUsageJson() {
    return "{\"prompt_tokens\":"
        + PROMPT
        + ",\"completion_tokens\":"
        + COMPLETION
        + ",\"total_tokens\":"
        + (PROMPT + COMPLETION)
        + ",\"prompt_tokens_details\":{\"cached_tokens\":"
        + CACHED
        + "},\"completion_tokens_details\":{\"reasoning_tokens\":"
        + REASONING
        + "}}";
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}

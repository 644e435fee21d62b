package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.Protocol;
import dev.creditgate.gateway.internal.TokenEstimator.Tokenizer;
import dev.creditgate.pricing.Usage;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.UnaryOperator;

/**
 * One of the LLM APIs the gateway meters ({@code /v1/chat/completions}, {@code /v1/responses},
 * {@code /v1/embeddings}, {@code /v1/messages}): what differs between them, so that the steps of a
 * call ({@link CallStep}) live once. An API reads and validates its request, says how much the
 * request may use (its output cap and choices; its input is counted with the route's tokenizer),
 * prepares what the upstream gets, reads the usage and output of a plain answer, watches a stream
 * ({@link AnswerStream}), puts the charge into the answer, and writes errors in its own shape.
 *
 * <p>Implementations are stateless and shared by all calls.
 */
interface LlmApi {

  /** The name in metrics and logs: {@code chat_completions}, {@code responses}, ... */
  String name();

  /** The GenAI semantic conventions' operation name: {@code chat} or {@code embeddings}. */
  String operation();

  /** The protocol a route must speak to serve this API. */
  Protocol protocol();

  /** The path after the route's base URL, such as {@code /chat/completions}. */
  String upstreamPath();

  /**
   * Returns {@code request} when it is valid for this API.
   *
   * @throws ApiError 400 naming the first invalid field
   */
  ObjectNode validate(ObjectNode request, CallOptions options);

  /** Whether the request asks for a stream. */
  boolean stream(ObjectNode request);

  /** The output cap per choice the request names; 0 when it names none. */
  long outputCap(ObjectNode request);

  /** The request field that caps the output, for messages: {@code max_completion_tokens}, ... */
  String outputCapField();

  /** Whether this API's calls produce output (an embedding produces none, and has no cap). */
  default boolean producesOutput() {
    return true;
  }

  /** How many choices the request asks for; at least 1. */
  default int choices(ObjectNode request) {
    return 1;
  }

  /** Sets the request's output cap, in the field the API uses. */
  void setOutputCap(ObjectNode request, long cap, ModelRoute route);

  /** Removes the output cap {@link #setOutputCap} wrote (for another upstream's field). */
  default void clearOutputCap(ObjectNode request) {}

  /**
   * Whether the request makes the provider add input the gateway cannot count before the call
   * (turns it stored); such a call is held for the configured bound of stored input.
   */
  default boolean addsStoredInput(ObjectNode request) {
    return false;
  }

  /** The request's input tokens before it is sent, counted with the route's tokenizer. */
  long inputTokens(TokenEstimator tokens, ObjectNode request, Tokenizer tokenizer, long bytes);

  /**
   * The usage counted by the gateway when the upstream's is missing or not believed: the request's
   * input (with OpenAI's current encoding) and the output relayed.
   */
  default Usage estimate(
      TokenEstimator tokens, ObjectNode request, String output, long outputCharsDropped) {
    long input = inputTokens(tokens, request, Tokenizer.O200K_BASE, 0);
    // Text beyond the kept window is counted at about four characters a token.
    return new Usage(input, tokens.count(output) + (outputCharsDropped + 3) / 4, 0, 0);
  }

  /** Changes what the upstream gets beyond the model name (a stream's usage, say). */
  default void prepareUpstream(ObjectNode request, boolean stream) {}

  /**
   * The request headers the upstream gets besides the body's type.
   *
   * @param apiKey the route's key, empty when it needs none
   * @param clientHeader the client's request header of a name, or null, for those passed on
   */
  Map<String, String> upstreamHeaders(String apiKey, UnaryOperator<String> clientHeader);

  /** What a plain answer says of its usage. */
  UsageParser.Report usage(JsonNode answer);

  /** The non-empty pieces of output of a plain answer, each a provider token at least. */
  List<String> outputTexts(JsonNode answer);

  /**
   * A successful plain answer with the charge in its usage; {@code answer} itself when there is
   * nothing to add.
   *
   * @param charged the usage the call was settled at, written when the answer has no usage or one
   *     the call was not charged at
   * @param reported whether the call was charged at the answer's own usage
   * @param credits the credits charged; empty for a call that is not metered
   */
  byte[] withCharge(
      byte[] answer, JsonNode parsed, Usage charged, boolean reported, OptionalLong credits);

  /**
   * A watcher of one streamed answer.
   *
   * @param budget the pieces of output the call's hold pays for ({@link
   *     dev.creditgate.meter.MeteredCall#outputBudget()})
   */
  AnswerStream newStream(CallExchange x, long budget);

  /** The body of an error in this API's shape. */
  default byte[] errorBody(ApiError error) {
    return Json.errorBytes(error);
  }
}

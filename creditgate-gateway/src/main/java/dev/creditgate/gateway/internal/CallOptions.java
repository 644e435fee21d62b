package dev.creditgate.gateway.internal;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What the chat endpoint is configured with.
 *
 * @param maxBodyBytes larger request bodies are refused (413)
 * @param userScenes the pricing scenes a user key may name in {@code X-Creditgate-Scene}, compared
 *     as price rules compare them (trimmed, case-insensitive); empty: none
 * @param maxChoices the most choices ({@code n}) a request may ask for
 * @param maxTopLogprobs the most {@code top_logprobs} a request may ask for
 * @param maxAnswerBytes a plain answer larger than this is not read
 * @param storedInputTokens the input a call that makes the provider add stored turns is held for,
 *     at least
 */
public record CallOptions(
    long maxBodyBytes,
    List<String> userScenes,
    long maxChoices,
    long maxTopLogprobs,
    long maxAnswerBytes,
    long storedInputTokens) {

  public CallOptions {
    userScenes = List.copyOf(userScenes);
  }

  /** The user scenes as compared: trimmed, in lower case. */
  Set<String> userSceneKeys() {
    return userScenes.stream().map(CallOptions::sceneKey).collect(Collectors.toUnmodifiableSet());
  }

  /** A scene as compared with the allowed ones. */
  static String sceneKey(String scene) {
    return scene.trim().toLowerCase(Locale.ROOT);
  }
}

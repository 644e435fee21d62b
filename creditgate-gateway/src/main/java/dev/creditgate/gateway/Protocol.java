package dev.creditgate.gateway;

import java.util.Locale;

/** The wire protocol an upstream speaks, which decides the APIs a route can serve. */
public enum Protocol {
  /**
   * OpenAI's: {@code /chat/completions}, {@code /responses} and {@code /embeddings}, the key as a
   * bearer token. Most providers and model servers speak it.
   */
  OPENAI,
  /** Anthropic's Messages API: {@code /messages}, the key in {@code x-api-key}. */
  ANTHROPIC;

  /** The name in configuration and in {@code /v1/models}: {@code openai}, {@code anthropic}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}

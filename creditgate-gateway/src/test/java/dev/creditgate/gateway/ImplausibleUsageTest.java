package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.LedgerEntry;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * An upstream's usage is read, not believed: counts that are not non-negative integers, a usage
 * object without its counts, counts beyond what the request allows or below what was relayed, and a
 * stream cut before its usage are each charged from the gateway's own estimate or the call's hold,
 * never 0 for a call that produced output. PostgreSQL ledger (strict credit), Redis cache.
 */
class ImplausibleUsageTest extends GatewayTestSupport {

  /** The route's output cap ({@code models.pro.max-output-tokens} of the test support). */
  static final long CAP = 1000;

  @Override
  Map<String, String> backend(Path tmp) throws Exception {
    return Map.of(
        "ledger.url",
        TestBackends.freshPostgresSchema("usage"),
        "cache.redis-uri",
        TestBackends.REDIS_URI,
        "cache.redis-prefix",
        TestBackends.freshRedisPrefix("usage"));
  }

  LedgerEntry theCharge(String account) {
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(account).size() == 1);
    return charges(account).get(0);
  }

  static String chunk(String choices, String usage) {
    return "{\"id\":\"chatcmpl-broken\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        + "\"model\":\"test-model-pro\",\"choices\":"
        + choices
        + (usage == null ? "" : ",\"usage\":" + usage)
        + "}";
  }

  static String text(String content) {
    return chunk(
        "[{\"index\":0,\"delta\":{\"content\":\"" + content + "\"},\"finish_reason\":null}]", null);
  }

  @Test
  void negativeOrNonIntegerCountsAreNotReadAsZeroButChargedAnEstimate() throws Exception {
    for (String completion : List.of("-5", "\"340\"", "12.5", "true")) {
      String account = account();
      String key = userKey(account, 100_000);
      upstream.usage = "{\"prompt_tokens\":1200,\"completion_tokens\":" + completion + "}";
      HttpResponse<String> r = post(key, HELLO, Map.of());
      assertThat(r.statusCode()).as(completion).isEqualTo(200);
      LedgerEntry charge = theCharge(account);
      assertThat(charge.estimated()).as(completion).isTrue();
      assertThat(charge.usage().outputTokens()).as(completion).isPositive();
      assertThat(r.headers().firstValue("X-Creditgate-Estimated")).hasValue("true");
      // The client is told the usage it was charged for, not the upstream's unreadable counts.
      assertThat(JSON.readTree(r.body()).path("usage").path("completion_tokens").asLong())
          .isEqualTo(charge.usage().outputTokens());
    }
  }

  @Test
  void anEmptyOrMalformedUsageIsChargedTheEstimateNotZero() throws Exception {
    for (String usage : List.of("{}", "\"lots\"", "[]", "{\"prompt_tokens\":1200}")) {
      String account = account();
      String key = userKey(account, 100_000);
      upstream.usage = usage;
      HttpResponse<String> r = post(key, HELLO, Map.of());
      assertThat(r.statusCode()).as(usage).isEqualTo(200);
      LedgerEntry charge = theCharge(account);
      assertThat(charge.estimated()).as(usage).isTrue();
      assertThat(charge.amount()).as(usage).isNegative();
      assertThat(charge.usage().inputTokens()).as(usage).isPositive();
      assertThat(charge.usage().outputTokens()).as(usage).isPositive();
      // The entry says why the upstream's usage was not used.
      assertThat(charge.metadata()).as(usage).contains("\"usage_fallback\":\"malformed\"");
    }
  }

  @Test
  void absurdlyLargeCountsAreChargedTheHoldNotZero() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.usage = "{\"prompt_tokens\":12,\"completion_tokens\":9000000000000000000}";
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    assertThat(charge.usage().outputTokens()).isEqualTo(CAP);
    assertThat(charge.metadata()).contains("\"usage_fallback\":\"too_high\"");
    long reserved = Long.parseLong(r.headers().firstValue("X-Creditgate-Reserved").orElseThrow());
    assertThat(-charge.amount()).isPositive().isLessThanOrEqualTo(reserved);
  }

  @Test
  void moreOutputThanTheCapAllowsIsChargedAtTheCap() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.usage = "{\"prompt_tokens\":12,\"completion_tokens\":5000}";
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    assertThat(charge.usage().outputTokens()).isEqualTo(CAP);
  }

  @Test
  void aStreamReportingFewerTokensThanItRelayedIsChargedAtLeastWhatItRelayed() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    // Five pieces of text relayed ("Hello", " word1" ... " word4"); a provider sends at least a
    // token per piece.
    upstream.usage = "{\"prompt_tokens\":1200,\"completion_tokens\":1}";
    HttpResponse<String> r = post(key, HELLO_STREAM, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("[DONE]");
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    assertThat(charge.usage().inputTokens()).isEqualTo(1200);
    assertThat(charge.usage().outputTokens()).isGreaterThanOrEqualTo(5);
    assertThat(charge.metadata()).contains("\"usage_fallback\":\"too_low\"");
  }

  @Test
  void aPromptOnlyUsageChunkInABrokenStreamDoesNotReplaceTheTextEstimate() throws Exception {
    for (String promptOnly :
        List.of("{\"prompt_tokens\":1200}", "{\"prompt_tokens\":1200,\"completion_tokens\":0}")) {
      String account = account();
      String key = userKey(account, 100_000);
      upstream.brokenStream =
          List.of(
              chunk("[]", promptOnly),
              text("Once upon a time"),
              text(" there was a gateway"),
              text(" that trusted every number"));
      HttpResponse<String> r = post(key, HELLO_STREAM, Map.of());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).contains("Once upon a time").doesNotContain("[DONE]");
      LedgerEntry charge = theCharge(account);
      assertThat(charge.estimated()).as(promptOnly).isTrue();
      assertThat(charge.usage().outputTokens()).as(promptOnly).isGreaterThanOrEqualTo(3);
      // Without its completion count the usage is malformed; with 0 of it, below what was relayed.
      assertThat(charge.metadata())
          .as(promptOnly)
          .contains(
              promptOnly.contains("completion")
                  ? "\"usage_fallback\":\"too_low\""
                  : "\"usage_fallback\":\"malformed\"");
    }
  }

  /**
   * A usage chunk at the start of a stream (a provider's prompt count) is not the end of it: a
   * stream that then goes past the cap its hold pays for is still cut off there.
   */
  @Test
  void anEarlyUsageChunkDoesNotLetAStreamRunPastItsHold() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    List<String> events = new java.util.ArrayList<>();
    events.add(chunk("[]", "{\"prompt_tokens\":10,\"completion_tokens\":0}"));
    for (int i = 0; i < 40; i++) {
      events.add(text(" word" + i));
    }
    upstream.brokenStream = events;
    HttpResponse<String> r =
        post(
            key,
            HELLO_STREAM.replace("\"stream\":true,", "\"stream\":true,\"max_tokens\":5,"),
            Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"finish_reason\":\"length\"").contains("[DONE]");
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    assertThat(charge.usage().outputTokens()).isEqualTo(5);
    assertThat(charge.metadata()).contains("\"usage_fallback\":\"cut_off\"");
  }

  @Test
  void aToolCallStreamCutBeforeItsUsageIsChargedForItsArguments() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.brokenStream =
        List.of(
            chunk(
                "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
                    + "[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":"
                    + "{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]",
                null),
            chunk(
                "[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
                    + "{\"arguments\":\"{\\\"city\\\": \\\"Paris\\\",\"}}]},\"finish_reason\":null}]",
                null),
            chunk(
                "[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
                    + "{\"arguments\":\" \\\"unit\\\": \\\"celsius\\\"}\"}}]},\"finish_reason\":null}]",
                null));
    HttpResponse<String> r = post(key, HELLO_STREAM, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("get_weather");
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isTrue();
    assertThat(charge.amount()).isNegative();
    assertThat(charge.usage().outputTokens()).isGreaterThanOrEqualTo(3);
    assertThat(charge.metadata()).contains("\"usage_fallback\":\"absent\"");
  }

  @Test
  void aBelievedUsageLeavesNoFallbackInTheEntry() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    upstream.usage = "{\"prompt_tokens\":12,\"completion_tokens\":30}";
    HttpResponse<String> r = post(key, HELLO, Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    LedgerEntry charge = theCharge(account);
    assertThat(charge.estimated()).isFalse();
    assertThat(charge.metadata()).doesNotContain("usage_fallback");
  }
}

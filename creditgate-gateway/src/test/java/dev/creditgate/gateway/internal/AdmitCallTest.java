package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.Admission;
import dev.creditgate.BillingContext;
import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.GatewayLimits;
import dev.creditgate.gateway.ModelRoute;
import dev.creditgate.gateway.internal.UpstreamRouter.Route;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.IdempotencyKeyReusedException;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.Settlement;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class AdmitCallTest {

  private final List<String> events = new ArrayList<>();
  private final AtomicReference<Estimate> estimated = new AtomicReference<>();
  private final GatewayMetrics metrics =
      new GatewayMetrics(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
  private final CallSlots slots = new CallSlots(new GatewayLimits(1, 0, 1), metrics);

  private CallExchange exchange(String body) throws Exception {
    CallExchange x = new CallExchange(null, ChatApi.INSTANCE);
    x.request = (com.fasterxml.jackson.databind.node.ObjectNode) Json.MAPPER.readTree(body);
    x.requestBytes = body.length();
    x.route =
        new Route(
            new ModelRoute("pro", "http://127.0.0.1:1/v1", "", "openai", "gpt-x"),
            Map.of("/chat/completions", URI.create("http://127.0.0.1:1/v1/chat/completions")),
            "");
    x.billing = new BillingContext("acme", "k1", "", "req", "", "pro", false);
    x.principal =
        new Authenticator.Principal(
            new ApiKey("key_1", "cgk_abcdef", ApiKey.Kind.USER, "acme", "", Instant.EPOCH, null),
            "acme",
            false);
    return x;
  }

  private AdmitCall admitting(Admission.Reason reason) {
    return new AdmitCall(
        (context, estimate) -> {
          estimated.set(estimate);
          return new RecordingCall(Admission.of(reason));
        },
        new TokenEstimator(),
        slots,
        metrics,
        1000);
  }

  @Test
  void anAdmittedCallProceedsAndIsClosedAfterTheRestOfTheChain() throws Exception {
    CallExchange x = exchange("{\"messages\":[],\"max_tokens\":300}");
    admitting(Admission.Reason.BALANCE_POSITIVE)
        .process(
            x,
            next -> {
              assertThat(next.call).isNotNull();
              events.add("served");
            });
    assertThat(events).containsExactly("served", "closed");
  }

  @Test
  void theCallIsClosedEvenWhenTheRestOfTheChainFails() throws Exception {
    CallExchange x = exchange("{\"messages\":[]}");
    assertThatThrownBy(
            () ->
                admitting(Admission.Reason.BALANCE_POSITIVE)
                    .process(
                        x,
                        next -> {
                          throw new ApiError(504, "server_error", "upstream_timeout", "late");
                        }))
        .isInstanceOf(ApiError.class);
    assertThat(events).containsExactly("closed");
    assertThat(slots.held("key")).isZero();
    assertThat(slots.held("account")).isZero();
  }

  @Test
  void aCallPastItsKeysLimitIsRefusedBeforeItIsMetered() throws Exception {
    AdmitCall step = admitting(Admission.Reason.BALANCE_POSITIVE);
    step.process(
        exchange("{\"messages\":[]}"),
        first -> {
          assertThat(slots.held("key")).isEqualTo(1);
          estimated.set(null);
          assertThatThrownBy(() -> step.process(exchange("{\"messages\":[]}"), next -> {}))
              .isInstanceOfSatisfying(
                  ApiError.class,
                  e -> {
                    assertThat(e.status()).isEqualTo(429);
                    assertThat(e.code()).isEqualTo("too_many_concurrent_requests");
                    assertThat(e.retryAfterSeconds()).isEqualTo(1);
                  });
          assertThat(estimated.get()).as("the meter was not asked").isNull();
          events.add("served");
        });
    assertThat(events).containsExactly("served", "closed");
    assertThat(slots.held("key")).isZero();
    assertThat(slots.held("account")).isZero();
  }

  @Test
  void aDeniedAccountGets402AndTheUpstreamIsNotCalled() throws Exception {
    CallExchange x = exchange("{\"messages\":[]}");
    assertThatThrownBy(
            () ->
                admitting(Admission.Reason.DENIED_NON_POSITIVE_BALANCE)
                    .process(x, next -> events.add("served")))
        .isInstanceOfSatisfying(
            ApiError.class,
            e -> {
              assertThat(e.status()).isEqualTo(402);
              assertThat(e.code()).isEqualTo("credit_balance_blocked");
            });
    assertThat(events).containsExactly("closed");
  }

  @Test
  void anUnknownAccountGets402AccountNotFound() throws Exception {
    CallExchange x = exchange("{\"messages\":[]}");
    assertThatThrownBy(
            () ->
                admitting(Admission.Reason.DENIED_UNKNOWN_ACCOUNT)
                    .process(x, next -> events.add("served")))
        .isInstanceOfSatisfying(
            ApiError.class,
            e -> {
              assertThat(e.status()).isEqualTo(402);
              assertThat(e.code()).isEqualTo("account_not_found");
              assertThat(e.getMessage()).contains("acme");
            });
  }

  @Test
  void aReusedKeyGets409NamingTheHeader() throws Exception {
    for (boolean inProgress : new boolean[] {true, false}) {
      CallExchange x = exchange("{\"messages\":[]}");
      AdmitCall step =
          new AdmitCall(
              (context, estimate) -> {
                throw new IdempotencyKeyReusedException("k1", inProgress);
              },
              new TokenEstimator(),
              slots,
              metrics,
              1000);
      assertThatThrownBy(() -> step.process(x, next -> events.add("served")))
          .isInstanceOfSatisfying(
              ApiError.class,
              e -> {
                assertThat(e.status()).isEqualTo(409);
                assertThat(e.code()).isEqualTo("idempotency_key_reused");
                assertThat(e.param()).isEqualTo("Idempotency-Key");
                assertThat(e.getMessage()).contains(inProgress ? "in progress" : "already used");
              });
    }
    assertThat(events).isEmpty();
  }

  @Test
  void theEstimateCountsTheInputWithTheRoutesTokenizerAndTheLargerOutputCapPerChoice()
      throws Exception {
    String body =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"max_tokens\":300,"
            + "\"max_completion_tokens\":700,\"n\":3}";
    admitting(Admission.Reason.BALANCE_POSITIVE).process(exchange(body), next -> {});
    // o200k_base: "user" and "Say hello" are 1 and 2 tokens, 3 of framing per message, 3 per reply.
    assertThat(estimated.get()).isEqualTo(new Estimate("openai", "gpt-x", 9, 700, 3));
  }

  @Test
  void aRequestWithoutACapGetsTheRoutesAndTheUpstreamIsToldIt() throws Exception {
    CallExchange x = exchange("{\"messages\":[]}");
    admitting(Admission.Reason.BALANCE_POSITIVE).process(x, next -> {});
    assertThat(estimated.get().maxOutputTokens())
        .isEqualTo(dev.creditgate.gateway.GatewayConfig.DEFAULT_MAX_OUTPUT_TOKENS);
    assertThat(x.request.path("max_completion_tokens").asLong())
        .isEqualTo(dev.creditgate.gateway.GatewayConfig.DEFAULT_MAX_OUTPUT_TOKENS);
  }

  private final class RecordingCall implements MeteredCall {
    private final Admission admission;

    RecordingCall(Admission admission) {
      this.admission = admission;
    }

    @Override
    public Admission admission() {
      return admission;
    }

    @Override
    public boolean metered() {
      return true;
    }

    @Override
    public void beforeRelay() {}

    @Override
    public Settlement settle(Usage usage, UsageSource source) {
      return Settlement.abandoned();
    }

    @Override
    public void abandon(String reason) {}

    @Override
    public void close() {
      events.add("closed");
    }
  }
}

package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.gateway.ApiError;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CallChainTest {

  private static final Ticker TICKER = Ticker.systemTicker();

  @Test
  void eachStepsStartIsTimedForTheCallsTrace() {
    AtomicLong now = new AtomicLong(100);
    CallChain chain =
        new CallChain(
            List.of(
                (x, next) -> {
                  now.set(250);
                  next.proceed(x);
                },
                (x, next) -> {
                  throw new ApiError(402, "insufficient_credits", "credit_balance_blocked", "no");
                },
                (x, next) -> {}),
            now::get);
    CallExchange exchange = new CallExchange(null, ChatApi.INSTANCE);
    assertThatThrownBy(() -> chain.run(exchange)).isInstanceOf(ApiError.class);
    // The third step was never reached.
    assertThat(exchange.stepStarts).containsExactly(100, 250, 0, 0);
  }

  @Test
  void stepsRunInOrderAndEachActsAgainWhenTheRestReturns() {
    List<String> seen = new ArrayList<>();
    CallChain chain =
        new CallChain(
            List.of(
                (x, next) -> {
                  seen.add("a in");
                  next.proceed(x);
                  seen.add("a out");
                },
                (x, next) -> {
                  seen.add("b in");
                  next.proceed(x);
                  seen.add("b out");
                },
                (x, next) -> seen.add("last")),
            TICKER);
    chain.run(new CallExchange(null, ChatApi.INSTANCE));
    assertThat(seen).containsExactly("a in", "b in", "last", "b out", "a out");
  }

  @Test
  void aRefusalStopsTheChainAndReachesTheCaller() {
    List<String> seen = new ArrayList<>();
    CallChain chain =
        new CallChain(
            List.of(
                (x, next) -> {
                  try {
                    next.proceed(x);
                  } finally {
                    seen.add("closed");
                  }
                },
                (x, next) -> {
                  throw new ApiError(402, "insufficient_credits", "credit_balance_blocked", "no");
                },
                (x, next) -> seen.add("never")),
            TICKER);
    assertThatThrownBy(() -> chain.run(new CallExchange(null, ChatApi.INSTANCE)))
        .isInstanceOf(ApiError.class);
    assertThat(seen).containsExactly("closed");
  }

  @Test
  void theLastStepMayNotProceed() {
    CallChain chain = new CallChain(List.of((x, next) -> next.proceed(x)), TICKER);
    assertThatThrownBy(() -> chain.run(new CallExchange(null, ChatApi.INSTANCE)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("called proceed");
  }

  @Test
  void aChainNeedsAStep() {
    assertThatThrownBy(() -> new CallChain(List.of(), TICKER))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

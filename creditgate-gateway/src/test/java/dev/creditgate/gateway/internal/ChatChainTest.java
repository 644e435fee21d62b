package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.gateway.ApiError;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatChainTest {

  @Test
  void stepsRunInOrderAndEachActsAgainWhenTheRestReturns() {
    List<String> seen = new ArrayList<>();
    ChatChain chain =
        new ChatChain(
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
                (x, next) -> seen.add("last")));
    chain.run(new ChatExchange(null));
    assertThat(seen).containsExactly("a in", "b in", "last", "b out", "a out");
  }

  @Test
  void aRefusalStopsTheChainAndReachesTheCaller() {
    List<String> seen = new ArrayList<>();
    ChatChain chain =
        new ChatChain(
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
                (x, next) -> seen.add("never")));
    assertThatThrownBy(() -> chain.run(new ChatExchange(null))).isInstanceOf(ApiError.class);
    assertThat(seen).containsExactly("closed");
  }

  @Test
  void theLastStepMayNotProceed() {
    ChatChain chain = new ChatChain(List.of((x, next) -> next.proceed(x)));
    assertThatThrownBy(() -> chain.run(new ChatExchange(null)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("called proceed");
  }

  @Test
  void aChainNeedsAStep() {
    assertThatThrownBy(() -> new ChatChain(List.of())).isInstanceOf(IllegalArgumentException.class);
  }
}

package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

class DeadlinesTest {

  @Test
  void pendingCallsFailAtTheBudgetAndFinishedOnesAreLeftAlone() throws Exception {
    try (Deadlines deadlines =
        new Deadlines(TimeUnit.MILLISECONDS.toNanos(100), "test-deadlines")) {
      List<CompletableFuture<String>> pending = new ArrayList<>();
      CompletableFuture<String> answered = new CompletableFuture<>();
      long start = System.nanoTime();
      deadlines.bound(answered);
      for (int i = 0; i < 100; i++) {
        CompletableFuture<String> future = new CompletableFuture<>();
        deadlines.bound(future);
        pending.add(future);
      }
      answered.complete("ok");
      for (CompletableFuture<String> future : pending) {
        assertThatThrownBy(() -> future.get(5, TimeUnit.SECONDS))
            .isInstanceOf(ExecutionException.class)
            .hasCauseInstanceOf(TimeoutException.class);
      }
      long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(tookMs).isGreaterThanOrEqualTo(99);
      assertThat(answered.get()).isEqualTo("ok");
    }
  }

  @Test
  void closeFailsPendingCallsAtOnce() {
    Deadlines deadlines = new Deadlines(TimeUnit.MINUTES.toNanos(10), "test-deadlines");
    CompletableFuture<String> pending = new CompletableFuture<>();
    deadlines.bound(pending);
    deadlines.close();
    assertThat(pending).isCompletedExceptionally();
  }
}

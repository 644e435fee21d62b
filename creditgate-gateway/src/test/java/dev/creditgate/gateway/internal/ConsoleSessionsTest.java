package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ConsoleSessionsTest {

  private final AtomicLong nanos = new AtomicLong();

  @Test
  void aSessionEndsAtItsTtl() {
    ConsoleSessions sessions = new ConsoleSessions(Duration.ofHours(8), 100, nanos::get);
    ConsoleSessions.Session s = sessions.begin("the-token");
    nanos.addAndGet(Duration.ofHours(8).minusSeconds(1).toNanos());
    assertThat(sessions.find(s.id())).contains(s);
    nanos.addAndGet(Duration.ofSeconds(2).toNanos());
    assertThat(sessions.find(s.id())).isEmpty();
  }

  @Test
  void idsAndCsrfTokensAreRandomAndDistinct() {
    ConsoleSessions sessions = new ConsoleSessions(Duration.ofHours(1), 1_000, nanos::get);
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      ConsoleSessions.Session s = sessions.begin("t");
      assertThat(s.id()).hasSize(43).isNotEqualTo(s.csrfToken());
      assertThat(seen.add(s.id())).isTrue();
      assertThat(seen.add(s.csrfToken())).isTrue();
    }
  }

  @Test
  void theCsrfTokenMustMatchExactly() {
    ConsoleSessions.Session s = new ConsoleSessions(Duration.ofHours(1), 10, nanos::get).begin("t");
    assertThat(s.csrfMatches(s.csrfToken())).isTrue();
    assertThat(s.csrfMatches(null)).isFalse();
    assertThat(s.csrfMatches("")).isFalse();
    assertThat(s.csrfMatches(s.csrfToken().substring(1))).isFalse();
    assertThat(s.toString()).doesNotContain(s.id()).doesNotContain("t]");
  }

  @Test
  void theNumberOfSessionsIsBounded() {
    ConsoleSessions sessions = new ConsoleSessions(Duration.ofHours(1), 50, nanos::get);
    for (int i = 0; i < 500; i++) {
      sessions.begin("t");
    }
    assertThat(sessions.size()).isLessThanOrEqualTo(50);
  }

  @Test
  void anEndedOrUnknownSessionIsNotFound() {
    ConsoleSessions sessions = new ConsoleSessions(Duration.ofHours(1), 10, nanos::get);
    ConsoleSessions.Session s = sessions.begin("t");
    sessions.end(s.id());
    assertThat(sessions.find(s.id())).isEmpty();
    assertThat(sessions.find(null)).isEmpty();
    assertThat(sessions.find("")).isEmpty();
    assertThatThrownBy(() -> new ConsoleSessions(Duration.ZERO, 10, nanos::get))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ttl");
  }
}

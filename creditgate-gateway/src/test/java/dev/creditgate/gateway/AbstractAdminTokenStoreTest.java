package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.InvalidArgumentException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link AdminTokenStore} against a real database, the same contract on SQLite and PostgreSQL. */
abstract class AbstractAdminTokenStoreTest {

  @TempDir Path tmp;

  String url;
  AdminTokenStore tokens;

  /** A fresh database's JDBC URL. */
  abstract String freshUrl(Path tmp) throws Exception;

  @BeforeEach
  void open() throws Exception {
    url = freshUrl(tmp);
    tokens = AdminTokenStore.open(url, Clock.systemUTC());
  }

  @AfterEach
  void close() {
    tokens.close();
  }

  @Test
  void aTokenAuthenticatesAsItsNameAndRoleUntilRevoked() {
    AdminTokenStore.CreatedToken viewer = tokens.create("alice", AdminToken.Role.VIEWER);
    AdminTokenStore.CreatedToken operator =
        tokens.create(" bob@example.com ", AdminToken.Role.OPERATOR);
    assertThat(viewer.secret()).startsWith("cga_").hasSize(47);
    assertThat(viewer.toString()).doesNotContain(viewer.secret());
    assertThat(tokens.authenticate(viewer.secret()))
        .hasValueSatisfying(
            t -> {
              assertThat(t.name()).isEqualTo("alice");
              assertThat(t.role()).isEqualTo(AdminToken.Role.VIEWER);
            });
    assertThat(tokens.authenticate(operator.secret()))
        .map(AdminToken::name)
        .hasValue("bob@example.com");
    assertThat(tokens.authenticate(viewer.secret() + "x")).isEmpty();
    assertThat(tokens.authenticate(viewer.secret().substring(0, 46))).isEmpty();
    assertThat(tokens.authenticate("cgk_" + viewer.secret().substring(4))).isEmpty();
    assertThat(tokens.authenticate(null)).isEmpty();

    assertThat(tokens.revoke(viewer.token().id()))
        .hasValueSatisfying(t -> assertThat(t.revoked()).isTrue());
    assertThat(tokens.authenticate(viewer.secret())).isEmpty();
    assertThat(tokens.authenticate(operator.secret())).isPresent();

    // Another process's store sees the revocation at once: nothing is remembered.
    try (AdminTokenStore other = AdminTokenStore.open(url, Clock.systemUTC())) {
      assertThat(other.authenticate(operator.secret())).isPresent();
      other.revoke(operator.token().id());
    }
    assertThat(tokens.authenticate(operator.secret())).isEmpty();
  }

  @Test
  void revokingTwiceKeepsTheFirstTimeAndAnUnknownIdIsEmpty() {
    Instant[] now = {Instant.parse("2025-01-31T12:00:00Z")};
    Clock clock =
        new Clock() {
          @Override
          public ZoneOffset getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(java.time.ZoneId zone) {
            return this;
          }

          @Override
          public Instant instant() {
            return now[0];
          }
        };
    try (AdminTokenStore timed = AdminTokenStore.open(url, clock)) {
      AdminToken t = timed.create("carol", AdminToken.Role.VIEWER).token();
      now[0] = now[0].plusSeconds(60);
      assertThat(timed.revoke(t.id())).map(AdminToken::revokedAt).hasValue(now[0]);
      now[0] = now[0].plusSeconds(60);
      assertThat(timed.revoke(t.id())).map(AdminToken::revokedAt).hasValue(now[0].minusSeconds(60));
      assertThat(timed.revoke("atk_0000000000000000")).isEmpty();
      assertThat(timed.find("atk_0000000000000000")).isEmpty();
    }
  }

  @Test
  void namesAreCheckedAndUniqueAmongTokensNotRevoked() {
    for (String bad :
        new String[] {"", " ", "Alice", "a b", "-x", ".x", "a/b", "a".repeat(65), "admin", "cli"}) {
      assertThatThrownBy(() -> tokens.create(bad, AdminToken.Role.VIEWER))
          .as(bad)
          .isInstanceOfSatisfying(
              InvalidArgumentException.class, e -> assertThat(e.parameter()).isEqualTo("name"));
    }
    assertThatThrownBy(() -> tokens.create(null, AdminToken.Role.VIEWER))
        .isInstanceOf(InvalidArgumentException.class);
    assertThat(tokens.list()).isEmpty();

    AdminToken first = tokens.create("dave", AdminToken.Role.OPERATOR).token();
    assertThatThrownBy(() -> tokens.create("dave", AdminToken.Role.VIEWER))
        .isInstanceOfSatisfying(
            AdminTokenNameTakenException.class, e -> assertThat(e.name()).isEqualTo("dave"));
    tokens.revoke(first.id());
    AdminToken second = tokens.create("dave", AdminToken.Role.VIEWER).token();
    assertThat(tokens.list())
        .extracting(AdminToken::id, AdminToken::name, AdminToken::revoked)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(first.id(), "dave", true),
            org.assertj.core.groups.Tuple.tuple(second.id(), "dave", false));
    assertThat(tokens.create("a".repeat(64), AdminToken.Role.VIEWER).token().name()).hasSize(64);
  }

  @Test
  void concurrentCreationsOfOneNameLeaveOneToken() throws Exception {
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Callable<Boolean>> calls = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        calls.add(
            () -> {
              try {
                tokens.create("erin", AdminToken.Role.OPERATOR);
                return true;
              } catch (AdminTokenNameTakenException e) {
                return false;
              }
            });
      }
      int created = 0;
      for (Future<Boolean> f : pool.invokeAll(calls)) {
        created += f.get() ? 1 : 0;
      }
      assertThat(created).isEqualTo(1);
      assertThat(tokens.list()).hasSize(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void rolesAreReadCaseInsensitivelyAndOthersRefusedByName() {
    assertThat(AdminToken.Role.of(" Operator ")).isEqualTo(AdminToken.Role.OPERATOR);
    assertThat(AdminToken.Role.of("viewer")).isEqualTo(AdminToken.Role.VIEWER);
    for (String bad : new String[] {"root", "", null, "admin"}) {
      assertThatThrownBy(() -> AdminToken.Role.of(bad))
          .isInstanceOfSatisfying(
              InvalidArgumentException.class, e -> assertThat(e.parameter()).isEqualTo("role"));
    }
    assertThat(AdminToken.Role.OPERATOR.includes(AdminToken.Role.VIEWER)).isTrue();
    assertThat(AdminToken.Role.VIEWER.includes(AdminToken.Role.OPERATOR)).isFalse();
  }
}

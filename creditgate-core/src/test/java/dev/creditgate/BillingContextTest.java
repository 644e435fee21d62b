package dev.creditgate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BillingContextTest {

  @ParameterizedTest
  @ValueSource(strings = {"42", "user_1", "a.b-c:d@e", "x"})
  void acceptsValidAccountIds(String id) {
    assertThat(BillingContext.forAccount(id).accountId()).isEqualTo(id);
  }

  @ParameterizedTest
  @ValueSource(strings = {"has space", "semi;colon", "slash/", "ünicode", "{tag}", "new\nline"})
  void rejectsInvalidAccountIdsNamingTheValue(String id) {
    assertThatThrownBy(() -> BillingContext.forAccount(id))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "accountId must be 1-128 characters of [A-Za-z0-9._:@-], but was '" + id.trim());
  }

  @Test
  void rejectsTooLongAccountId() {
    assertThatThrownBy(() -> BillingContext.forAccount("a".repeat(129)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("129 chars");
    assertThat(BillingContext.forAccount("a".repeat(128)).hasAccount()).isTrue();
  }

  @Test
  void normalizeTrimsEveryString() {
    BillingContext raw =
        new BillingContext(" 42 ", " e1 ", " chat ", " r1 ", " c1 ", " pro ", true);
    assertThat(raw.normalize())
        .isEqualTo(new BillingContext("42", "e1", "chat", "r1", "c1", "pro", true));
  }

  @Test
  void nullsBecomeEmptyAndEmptyMeansNothingSet() {
    BillingContext empty = new BillingContext(null, null, null, null, null, null, false);
    assertThat(empty.isEmpty()).isTrue();
    assertThat(empty.hasAccount()).isFalse();
    assertThat(empty.withScene("x").isEmpty()).isFalse();
    assertThat(empty.withSkipCharge(true).isEmpty()).isFalse();
  }
}

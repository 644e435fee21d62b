package dev.creditgate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ChecksTest {

  @Test
  void requirePositiveNamesTheParameterAndTheValue() {
    assertThat(Checks.requirePositive("ttl", Duration.ofMillis(1))).isEqualTo(Duration.ofMillis(1));
    assertThatThrownBy(() -> Checks.requirePositive("ttl", Duration.ZERO))
        .isInstanceOf(InvalidArgumentException.class)
        .hasMessage("ttl must be positive, but was PT0S")
        .hasFieldOrPropertyWithValue("parameter", "ttl");
    assertThatThrownBy(() -> Checks.requirePositive("ttl", null))
        .hasMessage("ttl must be positive, but was null");
    assertThatThrownBy(() -> Checks.requirePositive("ttl", Duration.ofSeconds(-1)))
        .hasMessage("ttl must be positive, but was PT-1S");
  }

  @Test
  void requireBetweenIncludesBothEnds() {
    assertThat(Checks.requireBetween("n", 1, 1, 3)).isEqualTo(1);
    assertThat(Checks.requireBetween("n", 3, 1, 3)).isEqualTo(3);
    assertThatThrownBy(() -> Checks.requireBetween("n", 4, 1, 3))
        .isInstanceOf(InvalidArgumentException.class)
        .hasMessage("n must be between 1 and 3, but was 4")
        .hasFieldOrPropertyWithValue("parameter", "n");
  }

  @Test
  void abbreviateKeepsShortValuesAndCutsLongOnes() {
    assertThat(Checks.abbreviate("abc", 3)).isEqualTo("abc");
    assertThat(Checks.abbreviate("abcd", 3)).isEqualTo("abc...");
  }
}

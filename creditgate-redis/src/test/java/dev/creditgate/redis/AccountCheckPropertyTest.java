package dev.creditgate.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.BillingContext;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.CharRange;
import net.jqwik.api.constraints.Chars;
import net.jqwik.api.constraints.StringLength;

/** The cache's hand-written account check accepts and rejects exactly what core's rule does. */
class AccountCheckPropertyTest {

  @Property
  void agreesWithCoreOnAnyString(@ForAll @StringLength(max = 140) String account) {
    agree(account);
  }

  @Property
  void agreesWithCoreNearTheAllowedAlphabet(@ForAll @StringLength(max = 140)
      @CharRange(from = '*', to = '~') @Chars({' ', '{', '}'}) String account) {
    agree(account);
  }

  private static void agree(String account) {
    boolean valid;
    try {
      BillingContext.requireValidAccountId(account);
      valid = true;
    } catch (IllegalArgumentException e) {
      valid = false;
    }
    if (valid) {
      assertThat(RedisCreditCache.checkAccount(account)).isSameAs(account);
    } else {
      assertThatThrownBy(() -> RedisCreditCache.checkAccount(account)).isInstanceOf(IllegalArgumentException.class);
    }
  }
}

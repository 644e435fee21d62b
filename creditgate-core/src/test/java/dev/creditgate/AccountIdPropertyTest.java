package dev.creditgate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.regex.Pattern;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.CharRange;
import net.jqwik.api.constraints.Chars;
import net.jqwik.api.constraints.StringLength;

/**
 * The hand-written account id check accepts and rejects exactly what its documented pattern does.
 */
class AccountIdPropertyTest {

  private static final Pattern DOCUMENTED = Pattern.compile("[A-Za-z0-9._:@-]{1,128}");

  @Property
  void agreesWithThePatternOnAnyString(@ForAll @StringLength(max = 140) String account) {
    agree(account);
  }

  @Property
  void agreesWithThePatternNearTheAllowedAlphabet(
      @ForAll @StringLength(max = 140) @CharRange(from = '*', to = '~') @Chars({' ', '{', '}'})
          String account) {
    agree(account);
  }

  private static void agree(String account) {
    if (DOCUMENTED.matcher(account).matches()) {
      assertThat(BillingContext.requireValidAccountId(account)).isSameAs(account);
    } else {
      assertThatThrownBy(() -> BillingContext.requireValidAccountId(account))
          .isInstanceOf(InvalidArgumentException.class)
          .hasFieldOrPropertyWithValue("parameter", "accountId");
    }
  }
}

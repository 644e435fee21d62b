package dev.creditgate.ledger;

import dev.creditgate.Checks;
import dev.creditgate.meter.CreditMode;
import dev.creditgate.meter.ShortfallPolicy;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * An account's own credit settings, each overriding the gateway's when present: its {@link
 * CreditMode}, what a strict meter does when a call's worst case does not fit ({@link
 * ShortfallPolicy}), and the credits it may spend below zero in strict mode.
 */
public record CreditPolicy(
    Optional<CreditMode> mode, Optional<ShortfallPolicy> shortfall, OptionalLong overdraft) {

  /** Nothing overridden: the gateway's settings apply. */
  public static final CreditPolicy NONE =
      new CreditPolicy(Optional.empty(), Optional.empty(), OptionalLong.empty());

  /**
   * @throws IllegalArgumentException (an {@link dev.creditgate.InvalidArgumentException} naming
   *     {@code overdraft}) when the overdraft is negative or above {@link LedgerChecks#MAX_AMOUNT}
   */
  public CreditPolicy {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(shortfall, "shortfall");
    Objects.requireNonNull(overdraft, "overdraft");
    if (overdraft.isPresent()) {
      Checks.requireBetween("overdraft", overdraft.getAsLong(), 0, LedgerChecks.MAX_AMOUNT);
    }
  }

  /** Whether nothing is overridden. */
  public boolean isEmpty() {
    return mode.isEmpty() && shortfall.isEmpty() && overdraft.isEmpty();
  }

  /** The mode in force: this policy's, else {@code gateway}'s. */
  public CreditMode modeOr(CreditMode gateway) {
    return mode.orElse(gateway);
  }

  /** The shortfall policy in force: this policy's, else {@code gateway}'s. */
  public ShortfallPolicy shortfallOr(ShortfallPolicy gateway) {
    return shortfall.orElse(gateway);
  }

  /** The overdraft in force: this policy's, else {@code gateway}'s. */
  public long overdraftOr(long gateway) {
    return overdraft.orElse(gateway);
  }
}

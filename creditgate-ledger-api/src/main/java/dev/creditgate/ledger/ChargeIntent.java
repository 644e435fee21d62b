package dev.creditgate.ledger;

import java.time.Duration;
import java.util.Objects;

/**
 * A call the ledger was told about when it was admitted, before its usage is known (see {@link
 * MeteringLedger#recordIntent}). The caller charges the call through it once the usage is known,
 * and closes it in every case.
 *
 * <p>Why: a ledger that writes charges behind the answer (write-behind) makes the intent durable
 * while the upstream call runs, so the answer never waits for a disk sync, and a charge that a
 * power loss takes away before it reached the database is still made from the intent's estimate.
 */
public interface ChargeIntent extends AutoCloseable {

  /**
   * Waits until the intent survives a power loss; returns false when {@code timeout} passed first.
   *
   * @throws LedgerUnavailableException when the intent cannot be made durable
   */
  boolean awaitDurable(Duration timeout);

  /** Charges the call; the same as {@link MeteringLedger#charge}, linked to this intent. */
  ChargeResult charge(ChargeRequest request);

  /**
   * Ends the intent; an intent never charged records that its call ended without a charge.
   * Idempotent.
   */
  @Override
  void close();

  /** An intent that records nothing: {@link #charge} is {@code ledger.charge(request)}. */
  static ChargeIntent direct(MeteringLedger ledger) {
    Objects.requireNonNull(ledger, "ledger");
    return new ChargeIntent() {
      @Override
      public boolean awaitDurable(Duration timeout) {
        return true;
      }

      @Override
      public ChargeResult charge(ChargeRequest request) {
        return ledger.charge(request);
      }

      @Override
      public void close() {}
    };
  }
}

package dev.creditgate.meter;

import dev.creditgate.Admission;
import dev.creditgate.pricing.Usage;
import java.util.OptionalLong;

/**
 * One LLM call's credit, from admission to charge. Obtained from {@link CreditMeter#open}.
 *
 * <p>Life cycle: {@link #admission()} says whether the call may be served; if it is, the caller
 * calls the upstream, calls {@link #beforeRelay()} once the upstream has answered and before the
 * client gets a byte, and {@link #settle} once the usage is known. A call that ends without the
 * upstream serving anything is {@link #abandon abandoned}. {@link #close()} ends the call in every
 * case and releases its event id; it abandons a call neither settled nor abandoned.
 *
 * <p>Thread-safe: a stream may be settled by the thread that read it while another closes the call.
 */
public interface MeteredCall extends AutoCloseable {

  /** Whether the call may be served, and why. Decided once, at {@link CreditMeter#open}. */
  Admission admission();

  /**
   * Whether the call is charged at all (false for a call without an account, or one a trusted key
   * asked not to charge).
   */
  boolean metered();

  /**
   * The credits held for the call at admission: its worst-case cost, which settling replaces with
   * the actual. Zero when nothing is held (check mode, a denied call, a call not metered).
   */
  default long reserved() {
    return 0;
  }

  /**
   * The output cap per choice the upstream must be told, when the meter lowered the request's own
   * to what the account's credit affords ({@link ShortfallPolicy#CLAMP}); empty when unchanged.
   */
  default OptionalLong clampedOutputTokens() {
    return OptionalLong.empty();
  }

  /**
   * For a call denied for insufficient credit ({@link
   * Admission.Reason#DENIED_INSUFFICIENT_CREDIT}): the output tokens per choice the account's
   * credit affords, zero when it does not even cover the input; -1 for any other call.
   */
  default long affordableOutputTokens() {
    return -1;
  }

  /**
   * The credit the account has left: after this call's hold once admitted, after its charge once
   * settled; empty when the meter does not know it (check mode, a call not metered).
   */
  default OptionalLong remaining() {
    return OptionalLong.empty();
  }

  /**
   * The output tokens, all choices together, that the call's hold pays for given its estimated
   * input: a gateway relaying a stream stops there, since more would be served unpaid. {@link
   * Long#MAX_VALUE} when nothing is held.
   */
  default long outputBudget() {
    return Long.MAX_VALUE;
  }

  /**
   * Called when the upstream has answered, before its answer is relayed: waits (bounded by the
   * meter's configuration) until the call's record survives a crash of the process, so that no
   * client ever holds an answer whose charge a crash could lose. Never throws.
   */
  void beforeRelay();

  /**
   * Charges the call for {@code usage}. Exactly once: a later call changes nothing and returns the
   * first result, as does a call after {@link #abandon}. Never throws: the call was served and its
   * answer must go out; a failure is reported in the result and logged.
   *
   * @param source where the usage came from (the upstream's report or the gateway's estimate)
   */
  Settlement settle(Usage usage, UsageSource source);

  /**
   * As {@link #settle(Usage, UsageSource)}, for usage the gateway counted because the upstream's
   * report could not be used: {@code fallbackReason} (for example {@code "malformed"}) says why,
   * and a meter that records charges keeps it with the charge. A meter that records nothing of it
   * settles as {@link #settle(Usage, UsageSource)}.
   */
  default Settlement settle(Usage usage, UsageSource source, String fallbackReason) {
    return settle(usage, source);
  }

  /**
   * Ends the call without a charge, because the upstream served nothing (it refused, failed before
   * answering, or answered an error without usage). No-op after {@link #settle}.
   */
  void abandon(String reason);

  /** Ends the call; abandons it if it was neither settled nor abandoned. Idempotent. */
  @Override
  void close();
}

package dev.creditgate;

/**
 * Observes the guard's decisions, e.g. to count outcomes by reason and time them. Called on the
 * caller's thread after every decision, so it must be fast and must not throw.
 */
@FunctionalInterface
public interface GuardListener {

  /** Does nothing. */
  GuardListener NOOP = (context, admission, nanos) -> {};

  /**
   * @param context the normalised billing context
   * @param admission the decision
   * @param nanos how long the decision took, by the guard's ticker
   */
  void onDecision(BillingContext context, Admission admission, long nanos);
}

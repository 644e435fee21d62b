package dev.creditgate.ledger;

import java.util.List;

/**
 * Whether an account's stored balance and totals agree with its entries.
 *
 * @param problems what disagrees, in words; empty when consistent
 */
public record VerifyResult(
    String accountId, boolean consistent, long balance, long sumOfEntries, List<String> problems) {

  public VerifyResult {
    problems = List.copyOf(problems);
  }
}

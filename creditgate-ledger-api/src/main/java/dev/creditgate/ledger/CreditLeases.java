package dev.creditgate.ledger;

import java.time.Duration;
import java.util.List;

/**
 * Leases of accounts' credit, for several processes that hold calls against one ledger: each
 * process leases a slice of an account's available credit in one atomic step, places its calls'
 * holds against that slice in memory, and gives back what it does not use. The ledger keeps the
 * live leases of an account within its balance plus the overdraft they were granted with, and a
 * charge a holder commits consumes its lease in the same transaction; so the credit all processes
 * hold together never exceeds what the account has. A lease that is not renewed expires with its
 * process, and its credit becomes free for the others.
 *
 * <p>The time between a renewal and the lease's expiry must cover the clocks' disagreement between
 * processes: a holder stops placing holds against a lease {@link #SAFETY_MARGIN_DIVISOR a share of
 * its term} before it expires.
 */
public interface CreditLeases {

  /**
   * A holder treats its lease as ended this share ({@code 1/n}) of the lease's term before its
   * expiry.
   */
  int SAFETY_MARGIN_DIVISOR = 3;

  /** The name this process holds leases under, unique per process start. */
  String holder();

  /**
   * Grows this holder's lease on the account by {@code needed} credits as far as the account has
   * them free (its balance plus {@code overdraft}, less every live lease), and by up to {@code
   * wanted - needed} more, but by at most half of what is free beyond {@code needed}, so that the
   * other holders of a scarce account find credit too; and renews it for {@code term}. Returns the
   * lease after; its credits may not have grown at all.
   *
   * @throws AccountNotFoundException when the account does not exist
   * @throws LedgerUnavailableException when the ledger's database cannot be reached
   * @throws IllegalArgumentException when needed, wanted or overdraft is negative, wanted is below
   *     needed, or term is not positive
   */
  Lease extend(String accountId, long needed, long wanted, long overdraft, Duration term);

  /**
   * Grows the lease as {@link #extend(String, long, long, long, Duration) extend} does, and returns
   * the credits it grew by: at least {@code needed} when the account had that much free, less when
   * it did not. The answer of the ledger itself, whatever this process's view of its lease is at
   * the moment.
   *
   * @throws AccountNotFoundException when the account does not exist
   * @throws LedgerUnavailableException when the ledger's database cannot be reached
   * @throws IllegalArgumentException as {@code extend}
   */
  long grow(String accountId, long needed, long wanted, long overdraft, Duration term);

  /**
   * Grows this holder's lease on the account by up to {@code credits}, as far as the account has
   * them free: {@link #extend(String, long, long, long, Duration) extend(accountId, credits,
   * credits, overdraft, term)}.
   */
  default Lease extend(String accountId, long credits, long overdraft, Duration term) {
    return extend(accountId, credits, credits, overdraft, term);
  }

  /**
   * Lowers this holder's lease on the account so that at most {@code keep} credits are left beyond
   * its charges not yet written, giving the rest back, and renews it for {@code term}.
   *
   * @throws LedgerUnavailableException when the ledger's database cannot be reached
   */
  void trim(String accountId, long keep, Duration term);

  /**
   * Renews every live lease of this holder for {@code term}, in one step. A lease found expired
   * stays expired: others may have leased its credit.
   *
   * @throws LedgerUnavailableException when the ledger's database cannot be reached
   */
  void renew(Duration term);

  /**
   * What this holder may still hold against its lease on the account, without I/O: the lease as
   * last known, less the holder's charges accepted and not yet written; 0 when it has no lease or
   * the lease is within its safety margin of expiry; negative when charges exceeded the lease.
   */
  long leaseRoom(String accountId);

  /** The live leases of the account, of every holder, for operators. */
  List<Lease> leases(String accountId);
}

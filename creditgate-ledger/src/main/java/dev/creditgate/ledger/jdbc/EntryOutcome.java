package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.Account;
import dev.creditgate.ledger.LedgerEntry;

/**
 * What writing one entry came to: the entry, the account's state after it, and whether the entry
 * was stored before under the same event id (a replay, nothing written).
 */
record EntryOutcome(LedgerEntry entry, Account account, boolean replayed) {}

package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.LedgerEntry;

/** An entry as stored, with the columns {@link LedgerEntry} does not carry. */
record StoredEntry(LedgerEntry entry, String provider, String refEventId) {
}

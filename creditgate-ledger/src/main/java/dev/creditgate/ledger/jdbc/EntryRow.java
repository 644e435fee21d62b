package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.LedgerEntry;

/** An entry as its row stores it, with the columns {@link LedgerEntry} does not carry. */
record EntryRow(LedgerEntry entry, String provider, String refEventId) {}

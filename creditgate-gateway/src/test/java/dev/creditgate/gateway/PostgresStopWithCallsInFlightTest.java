package dev.creditgate.gateway;

import java.nio.file.Path;

/**
 * Stopping with calls in flight, on PostgreSQL: charges go through group commit, and what it had
 * not written when the ledger closed is replayed from the journal at the next start.
 */
class PostgresStopWithCallsInFlightTest extends AbstractStopWithCallsInFlightTest {

  @Override
  String freshLedgerUrl(Path tmp) throws Exception {
    return TestBackends.freshPostgresSchema("stop");
  }
}

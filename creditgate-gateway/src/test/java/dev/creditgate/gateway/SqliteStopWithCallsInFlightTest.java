package dev.creditgate.gateway;

import java.nio.file.Path;

/** Stopping with calls in flight, on the embedded SQLite ledger. */
class SqliteStopWithCallsInFlightTest extends AbstractStopWithCallsInFlightTest {

  @Override
  String freshLedgerUrl(Path tmp) {
    return "jdbc:sqlite:" + tmp.resolve("creditgate.db");
  }
}

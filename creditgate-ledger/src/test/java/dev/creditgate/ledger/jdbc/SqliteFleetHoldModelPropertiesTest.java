package dev.creditgate.ledger.jdbc;

import java.nio.file.Path;

/** The fleet hold model: two instances leasing from one SQLite file. */
class SqliteFleetHoldModelPropertiesTest extends AbstractFleetHoldModelPropertiesTest {

  @Override
  String jdbcUrl(Path directory) {
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }
}

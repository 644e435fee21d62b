package dev.creditgate.ledger.jdbc;

import java.nio.file.Path;

/** The hold model on a write-behind SQLite ledger. */
class SqliteHoldModelPropertiesTest extends AbstractHoldModelPropertiesTest {

  @Override
  String jdbcUrl(Path directory) {
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }
}

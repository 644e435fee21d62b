package dev.creditgate.ledger.jdbc;

import java.nio.file.Files;
import java.nio.file.Path;
import net.jqwik.api.lifecycle.AfterContainer;

class SqliteLedgerModelPropertiesTest extends AbstractLedgerModelPropertiesTest {

  private static Path directory;

  @Override
  String jdbcUrl() throws Exception {
    synchronized (SqliteLedgerModelPropertiesTest.class) {
      if (directory == null) {
        directory = Files.createTempDirectory("creditgate-model");
      }
    }
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }

  @AfterContainer
  static void deleteDatabase() throws Exception {
    SqliteCreditLedgerTest.deleteTree(directory);
  }
}

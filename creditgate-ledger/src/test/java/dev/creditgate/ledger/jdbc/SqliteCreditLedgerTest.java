package dev.creditgate.ledger.jdbc;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** The ledger contract on SQLite, in a temporary file. */
class SqliteCreditLedgerTest extends AbstractCreditLedgerContractTest {

  private Path directory;

  @Override
  String createDatabase() throws Exception {
    directory = Files.createTempDirectory("creditgate-sqlite");
    return "jdbc:sqlite:" + directory.resolve("ledger.db");
  }

  @Override
  void dropDatabase() throws Exception {
    deleteTree(directory);
  }

  static void deleteTree(Path root) throws Exception {
    if (root == null || !Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}

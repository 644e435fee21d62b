package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SQLite connections are set up as the ledger's concurrency and durability need. */
class SqlitePragmaTest {

  @TempDir Path directory;

  @Test
  void connectionsUseWalFullSyncBusyTimeoutAndForeignKeys() throws Exception {
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl("jdbc:sqlite:" + directory.resolve("nested/dir/ledger.db"))
            .spoolDirectory(directory.resolve("spool"))
            .build()) {
      assertThat(ledger.dialect()).isEqualTo(Dialect.SQLITE);
      try (Connection c = ledger.dataSource().getConnection();
          Statement s = c.createStatement()) {
        assertThat(pragma(s, "journal_mode")).isEqualTo("wal");
        assertThat(pragma(s, "synchronous")).isEqualTo("2");
        assertThat(pragma(s, "busy_timeout")).isEqualTo("5000");
        assertThat(pragma(s, "foreign_keys")).isEqualTo("1");
      }
    }
  }

  private static String pragma(Statement s, String name) throws Exception {
    try (ResultSet rows = s.executeQuery("PRAGMA " + name)) {
      rows.next();
      return rows.getString(1);
    }
  }
}

package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.ledger.LedgerUnavailableException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JdbcCreditLedgerOptionsTest {

  @TempDir Path directory;

  @Test
  void badOptionsAreRejectedNamingTheValue() {
    JdbcCreditLedgerBuilder builder = JdbcCreditLedger.builder();
    assertThatThrownBy(() -> builder.jdbcUrl("jdbc:mysql://x/y"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'jdbc:mysql://x/y'");
    assertThatThrownBy(() -> builder.poolSize(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("poolSize")
        .hasMessageContaining("0");
    assertThatThrownBy(() -> builder.connectionTimeout(Duration.ofMillis(100)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("PT0.1S");
    assertThatThrownBy(() -> builder.statementTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("statementTimeout")
        .hasMessageContaining("PT0S");
    assertThatThrownBy(() -> builder.replayInterval(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("replayInterval");
    assertThat(Dialect.of("jdbc:postgresql://h/db")).isEqualTo(Dialect.POSTGRESQL);
    assertThat(Dialect.of(LedgerOptions.DEFAULT_JDBC_URL)).isEqualTo(Dialect.SQLITE);
  }

  @Test
  void migrateBringsTheSchemaUpToDateOnce() {
    String url = "jdbc:sqlite:" + directory.resolve("db/ledger.db");
    assertThat(JdbcCreditLedger.migrate(url)).isEqualTo(6);
    assertThat(JdbcCreditLedger.migrate(url)).isZero();
    try (JdbcCreditLedger ledger =
        JdbcCreditLedger.builder()
            .jdbcUrl(url)
            .migrate(false)
            .spoolDirectory(directory.resolve("spool"))
            .build()) {
      assertThat(ledger.grant("a", 5, "g1", "admin", "").balanceAfter()).isEqualTo(5);
    }
  }

  @Test
  void migratingAnUnreachableDatabaseIsUnavailable() {
    assertThatThrownBy(
            () ->
                JdbcCreditLedger.builder()
                    .jdbcUrl("jdbc:postgresql://127.0.0.1:1/none?user=postgres&connectTimeout=1")
                    .connectionTimeout(Duration.ofMillis(500))
                    .spoolDirectory(directory.resolve("spool"))
                    .build())
        .isInstanceOf(LedgerUnavailableException.class);
  }

  @Test
  void aSpoolDirectoryServesOneLedger() {
    String url = "jdbc:sqlite:" + directory.resolve("ledger.db");
    try (JdbcCreditLedger first =
        JdbcCreditLedger.builder()
            .jdbcUrl(url)
            .spoolDirectory(directory.resolve("spool"))
            .build()) {
      assertThat(first.stats().spoolPending()).isZero();
      assertThatThrownBy(
              () ->
                  JdbcCreditLedger.builder()
                      .jdbcUrl(url)
                      .spoolDirectory(directory.resolve("spool"))
                      .build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("spool");
    }
  }
}

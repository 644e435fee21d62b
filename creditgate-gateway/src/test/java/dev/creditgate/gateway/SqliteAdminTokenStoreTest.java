package dev.creditgate.gateway;

import java.nio.file.Path;

class SqliteAdminTokenStoreTest extends AbstractAdminTokenStoreTest {

  @Override
  String freshUrl(Path tmp) {
    return "jdbc:sqlite:" + tmp.resolve("tokens.db");
  }
}

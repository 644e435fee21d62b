package dev.creditgate.gateway;

import java.nio.file.Path;

class PostgresAdminTokenStoreTest extends AbstractAdminTokenStoreTest {

  @Override
  String freshUrl(Path tmp) throws Exception {
    return TestBackends.freshPostgresSchema("admintokens");
  }
}

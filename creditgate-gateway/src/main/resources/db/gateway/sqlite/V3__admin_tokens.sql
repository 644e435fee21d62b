-- Named admin tokens (AdminTokenStore): only the SHA-256 of each secret is stored. A name is unique
-- among the tokens not revoked, so a revoked token's name can be given again.
CREATE TABLE gateway_admin_tokens (
  id            TEXT    NOT NULL PRIMARY KEY,
  token_hash    TEXT    NOT NULL UNIQUE,
  token_prefix  TEXT    NOT NULL,
  name          TEXT    NOT NULL,
  role          TEXT    NOT NULL CHECK (role IN ('VIEWER', 'OPERATOR')),
  created_at    INTEGER NOT NULL,
  revoked_at    INTEGER
);
CREATE UNIQUE INDEX gateway_admin_tokens_active_name
  ON gateway_admin_tokens (name) WHERE revoked_at IS NULL;

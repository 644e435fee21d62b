-- Named admin tokens (AdminTokenStore): only the SHA-256 of each secret is stored. A name is unique
-- among the tokens not revoked, so a revoked token's name can be given again.
CREATE TABLE gateway_admin_tokens (
  id            VARCHAR(64)  NOT NULL PRIMARY KEY,
  token_hash    CHAR(64)     NOT NULL UNIQUE,
  token_prefix  VARCHAR(32)  NOT NULL,
  name          VARCHAR(64)  NOT NULL,
  role          VARCHAR(16)  NOT NULL CHECK (role IN ('VIEWER', 'OPERATOR')),
  created_at    BIGINT       NOT NULL,
  revoked_at    BIGINT
);
CREATE UNIQUE INDEX gateway_admin_tokens_active_name
  ON gateway_admin_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE gateway_api_keys (
  id          VARCHAR(64)  NOT NULL PRIMARY KEY,
  key_hash    CHAR(64)     NOT NULL UNIQUE,
  key_prefix  VARCHAR(32)  NOT NULL,
  kind        VARCHAR(16)  NOT NULL CHECK (kind IN ('USER', 'SERVICE')),
  account_id  VARCHAR(128),
  label       VARCHAR(200) NOT NULL DEFAULT '',
  created_at  BIGINT       NOT NULL,
  revoked_at  BIGINT
);
CREATE INDEX gateway_api_keys_account ON gateway_api_keys (account_id);

CREATE TABLE gateway_api_keys (
  id          TEXT    NOT NULL PRIMARY KEY,
  key_hash    TEXT    NOT NULL UNIQUE,
  key_prefix  TEXT    NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('USER', 'SERVICE')),
  account_id  TEXT,
  label       TEXT    NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);
CREATE INDEX gateway_api_keys_account ON gateway_api_keys (account_id);

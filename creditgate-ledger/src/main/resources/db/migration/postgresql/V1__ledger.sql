-- The credit ledger. Same semantics as db/migration/sqlite/V1__ledger.sql; keep the two in step.

CREATE TABLE accounts (
  id          VARCHAR(128) PRIMARY KEY,
  balance     BIGINT       NOT NULL DEFAULT 0,
  blocked     BOOLEAN      NOT NULL DEFAULT FALSE,
  -- +1 on every change; equals the number of the account's entries.
  version     BIGINT       NOT NULL DEFAULT 0,
  granted     BIGINT       NOT NULL DEFAULT 0,
  consumed    BIGINT       NOT NULL DEFAULT 0,
  refunded    BIGINT       NOT NULL DEFAULT 0,
  created_at  TIMESTAMPTZ  NOT NULL,
  updated_at  TIMESTAMPTZ  NOT NULL
);

-- Immutable: rows are inserted, never updated or deleted.
CREATE TABLE entries (
  id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id        VARCHAR(128) NOT NULL REFERENCES accounts (id),
  event_id          VARCHAR(200) NOT NULL,
  kind              VARCHAR(16)  NOT NULL CHECK (kind IN ('GRANT', 'CHARGE', 'REFUND', 'ADJUSTMENT', 'BLOCK', 'UNBLOCK')),
  amount            BIGINT       NOT NULL,
  balance_after     BIGINT       NOT NULL,
  request_id        VARCHAR(200) NOT NULL DEFAULT '',
  scene             VARCHAR(200) NOT NULL DEFAULT '',
  provider          VARCHAR(200) NOT NULL DEFAULT '',
  model             VARCHAR(200) NOT NULL DEFAULT '',
  input_tokens      BIGINT       NOT NULL DEFAULT 0,
  output_tokens     BIGINT       NOT NULL DEFAULT 0,
  cached_tokens     BIGINT       NOT NULL DEFAULT 0,
  reasoning_tokens  BIGINT       NOT NULL DEFAULT 0,
  cost_micros       BIGINT       NOT NULL DEFAULT 0,
  price_rule_id     BIGINT       NOT NULL DEFAULT 0,
  unpriced          BOOLEAN      NOT NULL DEFAULT FALSE,
  estimated         BOOLEAN      NOT NULL DEFAULT FALSE,
  -- The charge a refund returns credits of.
  ref_event_id      VARCHAR(200),
  actor             VARCHAR(200) NOT NULL DEFAULT '',
  reason            TEXT         NOT NULL DEFAULT '',
  -- Kept as the caller's text (idempotent replays compare it); must be a JSON object.
  metadata          TEXT         NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata::jsonb) = 'object'),
  created_at        TIMESTAMPTZ  NOT NULL,
  CONSTRAINT entries_event_unique UNIQUE (account_id, event_id)
);

CREATE INDEX entries_account_newest ON entries (account_id, id DESC);
CREATE INDEX entries_refunds ON entries (account_id, ref_event_id) WHERE ref_event_id IS NOT NULL;

CREATE TABLE price_rules (
  id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scene            VARCHAR(200) NOT NULL DEFAULT '',
  provider         VARCHAR(200) NOT NULL DEFAULT '',
  model            VARCHAR(200) NOT NULL DEFAULT '',
  input_price      BIGINT       NOT NULL,
  output_price     BIGINT       NOT NULL,
  cached_price     BIGINT       NOT NULL,
  reasoning_price  BIGINT       NOT NULL,
  credits_per_unit BIGINT       NOT NULL,
  markup_bps       BIGINT       NOT NULL DEFAULT 0,
  priority         INTEGER      NOT NULL DEFAULT 0,
  active           BOOLEAN      NOT NULL DEFAULT TRUE,
  created_at       TIMESTAMPTZ  NOT NULL,
  updated_at       TIMESTAMPTZ  NOT NULL
);

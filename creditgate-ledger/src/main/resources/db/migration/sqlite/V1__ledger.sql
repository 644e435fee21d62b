-- The credit ledger. Same semantics as db/migration/postgresql/V1__ledger.sql; keep the two in step.
-- Timestamps are microseconds since the epoch (UTC); booleans are 0/1.

CREATE TABLE accounts (
  id          TEXT    PRIMARY KEY,
  balance     INTEGER NOT NULL DEFAULT 0,
  blocked     INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
  -- +1 on every change; equals the number of the account's entries.
  version     INTEGER NOT NULL DEFAULT 0,
  granted     INTEGER NOT NULL DEFAULT 0,
  consumed    INTEGER NOT NULL DEFAULT 0,
  refunded    INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- Immutable: rows are inserted, never updated or deleted.
CREATE TABLE entries (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id        TEXT    NOT NULL REFERENCES accounts (id),
  event_id          TEXT    NOT NULL,
  kind              TEXT    NOT NULL CHECK (kind IN ('GRANT', 'CHARGE', 'REFUND', 'ADJUSTMENT', 'BLOCK', 'UNBLOCK')),
  amount            INTEGER NOT NULL,
  balance_after     INTEGER NOT NULL,
  request_id        TEXT    NOT NULL DEFAULT '',
  scene             TEXT    NOT NULL DEFAULT '',
  provider          TEXT    NOT NULL DEFAULT '',
  model             TEXT    NOT NULL DEFAULT '',
  input_tokens      INTEGER NOT NULL DEFAULT 0,
  output_tokens     INTEGER NOT NULL DEFAULT 0,
  cached_tokens     INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
  cost_micros       INTEGER NOT NULL DEFAULT 0,
  price_rule_id     INTEGER NOT NULL DEFAULT 0,
  unpriced          INTEGER NOT NULL DEFAULT 0 CHECK (unpriced IN (0, 1)),
  estimated         INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1)),
  -- The charge a refund returns credits of.
  ref_event_id      TEXT,
  actor             TEXT    NOT NULL DEFAULT '',
  reason            TEXT    NOT NULL DEFAULT '',
  -- Kept as the caller's text (idempotent replays compare it); must be a JSON object.
  metadata          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  created_at        INTEGER NOT NULL,
  CONSTRAINT entries_event_unique UNIQUE (account_id, event_id)
);

CREATE INDEX entries_account_newest ON entries (account_id, id DESC);
CREATE INDEX entries_refunds ON entries (account_id, ref_event_id) WHERE ref_event_id IS NOT NULL;

CREATE TABLE price_rules (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  scene            TEXT    NOT NULL DEFAULT '',
  provider         TEXT    NOT NULL DEFAULT '',
  model            TEXT    NOT NULL DEFAULT '',
  input_price      INTEGER NOT NULL,
  output_price     INTEGER NOT NULL,
  cached_price     INTEGER NOT NULL,
  reasoning_price  INTEGER NOT NULL,
  credits_per_unit INTEGER NOT NULL,
  markup_bps       INTEGER NOT NULL DEFAULT 0,
  priority         INTEGER NOT NULL DEFAULT 0,
  active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);

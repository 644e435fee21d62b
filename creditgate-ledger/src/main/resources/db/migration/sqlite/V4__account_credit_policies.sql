-- Accounts' own credit settings, each overriding the gateway's when not null. Same semantics as
-- db/migration/postgresql/V4__account_credit_policies.sql; keep the two in step.
-- Timestamps are microseconds since the epoch (UTC).
CREATE TABLE account_credit_policies (
  account_id   TEXT    PRIMARY KEY REFERENCES accounts (id),
  credit_mode  TEXT    CHECK (credit_mode IN ('STRICT', 'CHECK')),
  shortfall    TEXT    CHECK (shortfall IN ('REJECT', 'CLAMP')),
  overdraft    INTEGER CHECK (overdraft >= 0),
  updated_by   TEXT    NOT NULL DEFAULT '',
  updated_at   INTEGER NOT NULL
);

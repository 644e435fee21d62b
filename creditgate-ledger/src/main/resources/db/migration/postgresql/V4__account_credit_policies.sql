-- Accounts' own credit settings, each overriding the gateway's when not null. Same semantics as
-- db/migration/sqlite/V4__account_credit_policies.sql; keep the two in step.
CREATE TABLE account_credit_policies (
  account_id   VARCHAR(128) PRIMARY KEY REFERENCES accounts (id),
  credit_mode  VARCHAR(16)  CHECK (credit_mode IN ('STRICT', 'CHECK')),
  shortfall    VARCHAR(16)  CHECK (shortfall IN ('REJECT', 'CLAMP')),
  overdraft    BIGINT       CHECK (overdraft >= 0),
  updated_by   VARCHAR(200) NOT NULL DEFAULT '',
  updated_at   TIMESTAMPTZ  NOT NULL
);

-- Slices of accounts' credit leased by gateway processes. Same semantics as
-- db/migration/postgresql/V2__credit_leases.sql; keep the two in step.
-- Timestamps are microseconds since the epoch (UTC).
CREATE TABLE credit_leases (
  account_id  TEXT    NOT NULL REFERENCES accounts (id),
  holder      TEXT    NOT NULL,
  credits     INTEGER NOT NULL CHECK (credits >= 0),
  version     INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (account_id, holder)
);

CREATE INDEX credit_leases_holder ON credit_leases (holder);

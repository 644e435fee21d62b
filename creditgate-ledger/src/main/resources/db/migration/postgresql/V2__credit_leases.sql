-- Slices of accounts' credit leased by gateway processes, which place their calls' holds against
-- them in memory. Same semantics as db/migration/sqlite/V2__credit_leases.sql; keep the two in step.
--
-- A lease is live while expires_at is in the future. Under the account's row lock, the live leases
-- of an account never sum to more than its balance plus the overdraft they were granted with; a
-- charge its holder commits consumes the lease in the same transaction. An expired lease's credit
-- is free for others: whoever finds it expired sets it to 0.
CREATE TABLE credit_leases (
  account_id  VARCHAR(128) NOT NULL REFERENCES accounts (id),
  -- The leasing process, unique per process start.
  holder      VARCHAR(200) NOT NULL,
  credits     BIGINT       NOT NULL CHECK (credits >= 0),
  -- +1 on every change, so a holder applies what it learns of its lease in order.
  version     BIGINT       NOT NULL,
  expires_at  TIMESTAMPTZ  NOT NULL,
  PRIMARY KEY (account_id, holder)
);

CREATE INDEX credit_leases_holder ON credit_leases (holder);

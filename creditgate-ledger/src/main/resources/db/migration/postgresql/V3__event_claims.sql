-- Idempotency-Keys claimed by the calls being served, so that gateway processes sharing the ledger
-- serve one call per key. Same semantics as db/migration/sqlite/V3__event_claims.sql; keep the two
-- in step.
--
-- A process inserts the row before it calls the upstream; whoever's insert wins owns the key. A
-- claim is live while expires_at is in the future (the claiming meter's hold timeout): a call that
-- ends uncharged deletes its claim, a charged call's claim simply expires (its entry refuses the key
-- from then on), and the claim of a process killed during its call stops blocking the key once it
-- expired. Expired rows are deleted from time to time.
CREATE TABLE event_claims (
  account_id  VARCHAR(128) NOT NULL,
  event_id    VARCHAR(200) NOT NULL,
  -- The claiming process (its lease holder name, unique per process start).
  holder      VARCHAR(200) NOT NULL,
  expires_at  TIMESTAMPTZ  NOT NULL,
  PRIMARY KEY (account_id, event_id)
);

CREATE INDEX event_claims_expires ON event_claims (expires_at);

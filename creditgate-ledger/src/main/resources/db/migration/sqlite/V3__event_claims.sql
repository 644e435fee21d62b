-- Idempotency-Keys claimed by the calls being served. Same semantics as
-- db/migration/postgresql/V3__event_claims.sql; keep the two in step.
-- Timestamps are microseconds since the epoch (UTC).
CREATE TABLE event_claims (
  account_id  TEXT    NOT NULL,
  event_id    TEXT    NOT NULL,
  holder      TEXT    NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (account_id, event_id)
);

CREATE INDEX event_claims_expires ON event_claims (expires_at);

-- Same as db/migration/postgresql/V6__entries_spend_indexes.sql; keep the two in step.
-- The spend series (SpendSeries) sums the charges, and apart from them the refunds, recorded in a
-- time range, of one account or of all accounts. With the kind ahead of the time, each of those
-- sums reads exactly its own entries: without these indexes the first reads every entry of the
-- account and the second the whole table.
CREATE INDEX IF NOT EXISTS entries_spend_account ON entries (account_id, kind, created_at);
CREATE INDEX IF NOT EXISTS entries_spend_time ON entries (kind, created_at);

-- Same as db/migration/sqlite/V6__entries_spend_indexes.sql; keep the two in step.
-- The spend series (SpendSeries) sums the charges, and apart from them the refunds, recorded in a
-- time range, of one account or of all accounts. With the kind ahead of the time, each of those
-- sums reads exactly its own entries: without these indexes the first reads every entry of the
-- account (entries_account_newest orders them by id, not by time) and the second the whole table.
--
-- Building them blocks inserts into entries for as long as the build takes (charges wait, then
-- spool). On a large table, build them beforehand without blocking, as docs/ledger.md shows; IF NOT
-- EXISTS then keeps them.
CREATE INDEX IF NOT EXISTS entries_spend_account ON entries (account_id, kind, created_at);
CREATE INDEX IF NOT EXISTS entries_spend_time ON entries (kind, created_at);

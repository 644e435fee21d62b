-- Same as db/migration/postgresql/V6__entries_spend_indexes.sql; keep the two in step.
-- The spend series (SpendSeries) sums the charges and refunds recorded in a time range, of one
-- account or of all accounts. Without these indexes the first reads every entry of the account
-- and the second the whole table. Both are partial: grants, adjustments and blocks are never
-- summed, so they stay out of the indexes. SQLite uses a partial index only for a query whose
-- WHERE clause holds the index's condition as written: the spend query repeats it word for word.
CREATE INDEX IF NOT EXISTS entries_spend_account ON entries (account_id, created_at)
  WHERE kind IN ('CHARGE', 'REFUND');
CREATE INDEX IF NOT EXISTS entries_spend_time ON entries (created_at)
  WHERE kind IN ('CHARGE', 'REFUND');

-- Same as db/migration/sqlite/V5__credit_leases_holder_index.sql; keep the two in step.
-- The holder's rows are found by (holder, account_id), not by holder alone. With an index on the
-- holder only, a planner working from statistics taken while the table was nearly empty picks it
-- for the statements that name both the account and the holder (a charge batch consuming its
-- leases, a lease operation), and each such lookup reads every row of the holder, about one per
-- account. On this index either choice finds the one row, and the renewal reads the holder's rows
-- in account order, the order it locks them in.
DROP INDEX credit_leases_holder;
CREATE INDEX credit_leases_holder ON credit_leases (holder, account_id);

-- Seed: the database's clock (the transaction's start), the reference for "future showtimes only".
-- Parameters: none.
-- Returns: one row: now timestamptz.
SELECT now() AS now

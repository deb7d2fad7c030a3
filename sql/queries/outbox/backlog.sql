-- The backlog gauges: unsent events and the age of the oldest, through outbox_pending_idx.
-- No parameters. Returns one row: pending (INT8), oldest_seconds (FLOAT8, 0 when none).
SELECT count(*)::INT8 AS pending,
       COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::FLOAT8 AS oldest_seconds
FROM outbox
WHERE sent_at IS NULL

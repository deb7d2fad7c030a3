-- The sweeper's backlog gauges (boxoffice_holds_lapsed_pending, boxoffice_holds_lapsed_oldest_seconds; alert
-- BoxofficeHoldExpiryBacklog): reserved bookings past their hold, not yet expired, counted up to $1 (a bounded
-- index range over bookings_status_expiry_idx, however large the backlog), and the age of the oldest lapse.
-- $1 count cap (INT8). Returns one row: pending (INT8, at most $1), oldest_seconds (FLOAT8, 0 when none).
SELECT (SELECT count(*) FROM (
            SELECT 1 FROM bookings WHERE status = 'reserved' AND hold_expires_at < now() LIMIT $1
        ) AS capped)::INT8 AS pending,
       COALESCE(EXTRACT(EPOCH FROM now() - (
            SELECT min(hold_expires_at) FROM bookings WHERE status = 'reserved' AND hold_expires_at < now()
       )), 0)::FLOAT8 AS oldest_seconds

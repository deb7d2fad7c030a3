-- Records the cancellation of showtime $2 (region $1), in the transaction that marks it canceled, so that its
-- bookings are canceled even if the request that asked for it dies (the worker resumes an unfinished one; migration
-- 0004). Canceling a canceled showtime again keeps the first record (and its counters).
-- $1 region, $2 showtime id. Returns nothing.
INSERT INTO showtime_cancellations (region, showtime_id)
VALUES ($1, $2)
ON CONFLICT (region, showtime_id) DO NOTHING

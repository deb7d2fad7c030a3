-- Adds a batch's work to its cancellation's counters, in the batch's transaction (so each booking counts once,
-- however often the batch is retried), and marks the progress the worker looks at.
-- $1 region, $2 showtime id, $3 bookings canceled (INT8), $4 of which refunded (INT8). Returns nothing.
UPDATE showtime_cancellations
SET canceled = canceled + $3::INT8, refunded = refunded + $4::INT8, updated_at = now()
WHERE region = $1 AND showtime_id = $2

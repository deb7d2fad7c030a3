-- A booking by region and id (inside finalize and cancel transactions).
-- $1 region, $2 booking id. Returns 0 or 1 booking row (the columns of find_by_id.sql).
SELECT region, id, user_id, showtime_id, status, seats, total_amount, currency, hold_expires_at, payment_ref,
       created_at, updated_at, now() AS now
FROM bookings
WHERE region = $1 AND id = $2

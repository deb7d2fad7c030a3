-- A user's bookings, newest first, one page (cursor pagination on (created_at, id); bookings_user_idx).
-- $1 user id, $2 cursor created_at (NULL for the first page), $3 cursor id, $4 page size + 1 (INT8).
-- Returns booking rows (the columns of find_by_id.sql).
SELECT region, id, user_id, showtime_id, status, seats, total_amount, currency, hold_expires_at, payment_ref,
       created_at, updated_at, now() AS now
FROM bookings
WHERE user_id = $1
  AND ($2::TIMESTAMPTZ IS NULL OR (created_at, id) < ($2, $3::UUID))
ORDER BY created_at DESC, id DESC
LIMIT $4

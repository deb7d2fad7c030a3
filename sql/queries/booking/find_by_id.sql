-- A booking by id alone (GET /bookings/{id}: the region is not known; bookings_id_idx in each partition).
-- $1 booking id. Returns 0 or 1 row: region, id, user_id, showtime_id, status, seats, total_amount, currency,
-- hold_expires_at, payment_ref, created_at, updated_at, now.
SELECT region, id, user_id, showtime_id, status, seats, total_amount, currency, hold_expires_at, payment_ref,
       created_at, updated_at, now() AS now
FROM bookings
WHERE id = $1

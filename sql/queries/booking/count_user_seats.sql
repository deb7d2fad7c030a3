-- The per-user cap (run after the hold's own booking was inserted, so it counts it): the user's live seats on a
-- showtime, through bookings_user_showtime_idx (led by the user: migration 0002 says why). Inside the SERIALIZABLE
-- hold transaction two concurrent holds of the same user cannot both pass.
-- $1 region, $2 showtime id, $3 user id. Returns one row: seats (INT8).
SELECT COALESCE(SUM(seat_count), 0)::INT8 AS seats
FROM bookings
WHERE region = $1 AND showtime_id = $2 AND user_id = $3
  AND (status IN ('payment_pending', 'paid') OR (status = 'reserved' AND hold_expires_at > now()))

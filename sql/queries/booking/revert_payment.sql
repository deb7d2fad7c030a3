-- A charge known not to have taken money: a booking still payment_pending goes back to reserved with the given hold
-- (its hold before the payment window), or keeps its current hold when none is given, provided that hold is still in
-- the future. Matching no row: the booking moved on, or its hold has lapsed (the caller then expires it).
-- $1 region, $2 booking id, $3 hold to restore (NULL: keep the current one).
-- Returns the booking row (the columns of find_by_id.sql).
-- Keyed: the row is found by (region, id) alone. The guard is wrapped in (...) IS TRUE, which no index matches,
-- so no statistics can make the generic plan scan bookings_status_expiry_idx for it (a range scan whose predicate
-- locks cover the pages every concurrent hold and payment writes; README, "Transactions").
UPDATE bookings
SET status = 'reserved', hold_expires_at = COALESCE($3, hold_expires_at), updated_at = now()
WHERE region = $1 AND id = $2
  AND (status = 'payment_pending' AND COALESCE($3, hold_expires_at) > now()) IS TRUE
RETURNING region, id, user_id, showtime_id, status, seats, total_amount, currency, hold_expires_at, payment_ref,
          created_at, updated_at, now() AS now

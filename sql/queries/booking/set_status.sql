-- Moves a booking from one of the expected statuses to another (the state machine of booking::model), with its new
-- hold and payment reference. Matching no row means the booking changed meanwhile: the caller re-reads and decides
-- again (inside SERIALIZABLE, a concurrent change is a retried serialization failure anyway).
-- $1 region, $2 booking id, $3 new status, $4 expected current statuses (TEXT[]), $5 hold_expires_at (NULL once
-- paid), $6 payment_ref (NULL: unchanged).
-- Returns the booking row (the columns of find_by_id.sql).
-- Keyed: the row is found by (region, id) alone. The guard is wrapped in (...) IS TRUE, which no index matches,
-- so no statistics can make the generic plan scan bookings_status_expiry_idx for it (a range scan whose predicate
-- locks cover the pages every concurrent hold and payment writes; README, "Transactions").
UPDATE bookings
SET status = $3, hold_expires_at = $5, payment_ref = COALESCE($6, payment_ref), updated_at = now()
WHERE region = $1 AND id = $2 AND (status = ANY($4)) IS TRUE
RETURNING region, id, user_id, showtime_id, status, seats, total_amount, currency, hold_expires_at, payment_ref,
          created_at, updated_at, now() AS now

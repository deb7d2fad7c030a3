-- Cancels a reserved, unexpired booking for its owner or an admin. Sent in the same round trip as the find.sql that
-- explains a refusal (see start_payment.sql for why). Matching no row: the caller decides from what find.sql read.
-- $1 region, $2 booking id, $3 caller id, $4 caller is an admin (BOOL).
-- Returns the booking row (the columns of find_by_id.sql).
-- Keyed: the row is found by (region, id) alone. The guard is wrapped in (...) IS TRUE, which no index matches,
-- so no statistics can make the generic plan scan bookings_status_expiry_idx for it (a range scan whose predicate
-- locks cover the pages every concurrent hold and payment writes; README, "Transactions").
UPDATE bookings
SET status = 'canceled', updated_at = now()
WHERE region = $1 AND id = $2
  AND (status = 'reserved' AND hold_expires_at > now() AND (user_id = $3 OR $4)) IS TRUE
RETURNING region, id, user_id, showtime_id, status, seats, total_amount, currency, hold_expires_at, payment_ref,
          created_at, updated_at, now() AS now

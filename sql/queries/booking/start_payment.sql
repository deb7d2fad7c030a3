-- Finalize tx1: a reserved, unexpired booking of the caller enters payment_pending and its hold is extended to at
-- least the payment window from now (never shortened). Sent in the same round trip as the find.sql that explains a
-- refusal, so that the row is read and written with no gap in between (a gap is where SERIALIZABLE conflicts with
-- concurrent holds on the same showtime come from). Matching no row: the caller decides from what find.sql read.
-- The booking counts the charge attempt here (payment_attempts, the number payment/insert.sql records): counting
-- the booking's payments instead would read the payments_pkey page that concurrent payments insert into.
-- $1 region, $2 booking id, $3 caller (owner) id, $4 payment window in seconds (FLOAT8).
-- Its showtime must still be scheduled and not started (issue #17): a canceled or started showtime charges nothing;
-- showtime_state.sql then tells the caller why. The read of the showtime's status orders this transaction before a
-- cancellation of the showtime (which writes it), or after it and refused.
-- Returns the booking row (the columns of find_by_id.sql) and payment_attempts (INT4), this attempt's number.
-- Keyed: the row is found by (region, id) alone. The guard is wrapped in (...) IS TRUE, which no index matches,
-- so no statistics can make the generic plan scan bookings_status_expiry_idx for it (a range scan whose predicate
-- locks cover the pages every concurrent hold and payment writes; README, "Transactions").
UPDATE bookings
SET status = 'payment_pending',
    hold_expires_at = GREATEST(hold_expires_at, now() + $4::FLOAT8 * INTERVAL '1 second'),
    updated_at = now(),
    payment_attempts = payment_attempts + 1
WHERE region = $1 AND id = $2
  AND (user_id = $3 AND status = 'reserved' AND hold_expires_at > now()
       AND EXISTS (SELECT 1 FROM showtimes s
                   WHERE s.region = $1 AND s.id = bookings.showtime_id
                     AND s.status = 'scheduled' AND s.start_time > now())) IS TRUE
RETURNING region, id, user_id, showtime_id, status, seats, total_amount, currency, hold_expires_at, payment_ref,
          created_at, updated_at, now() AS now, payment_attempts

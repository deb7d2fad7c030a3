-- Extends a hold (after extend_state.sql, in the same transaction): the new expiry, one more extension counted.
-- The claims follow in the same commit (set_claims_expiry.sql), so the sweeper (which reads bookings) and the seat
-- cache (whose entries expire with the claims) both see the new expiry.
-- $1 region, $2 booking id, $3 new hold_expires_at. Returns the booking row (the columns of find.sql).
UPDATE bookings
SET hold_expires_at = $3, hold_extensions = hold_extensions + 1, updated_at = now()
WHERE region = $1 AND id = $2
RETURNING region, id, user_id, showtime_id, status, seats, total_amount, currency, hold_expires_at, payment_ref,
          created_at, updated_at, now() AS now

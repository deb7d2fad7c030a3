-- Releases every claim of a booking (cancellation, expiry, failed payment past the hold).
-- $1 region, $2 booking id. Returns nothing; the row count is the number of seats released.
DELETE FROM booking_seats WHERE region = $1 AND booking_id = $2

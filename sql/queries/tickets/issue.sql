-- Issues a paid booking's tickets, one per seat, in the transaction that makes the booking paid (a retry or the
-- reconciler completing the same payment issues nothing twice).
-- $1 region, $2 booking id, $3 showtime id, $4 seat labels (TEXT[]). Returns nothing.
INSERT INTO tickets (region, booking_id, seat_label, showtime_id)
SELECT $1, $2, seat, $3 FROM unnest($4::TEXT[]) AS seat
ON CONFLICT (region, booking_id, seat_label) DO NOTHING

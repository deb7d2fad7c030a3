-- Sets the hold of every claim of a booking (payment window opened, or restored after a decline). Claims of a live
-- booking always carry the booking's own hold_expires_at.
-- $1 region, $2 booking id, $3 hold_expires_at. Returns one row per claim: seat_label.
UPDATE booking_seats SET hold_expires_at = $3
WHERE region = $1 AND booking_id = $2
RETURNING seat_label

-- The region of a booking (immutable: callers cache it), so that finalize and cancel carry it in every statement.
-- $1 booking id. Returns 0 or 1 row: region.
SELECT region FROM bookings WHERE id = $1

-- The region of a showtime (immutable: callers cache it), so that every later statement carries its region.
-- $1 showtime id. Returns 0 or 1 row: region.
SELECT region FROM showtimes WHERE id = $1

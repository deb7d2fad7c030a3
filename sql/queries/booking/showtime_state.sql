-- Why finalize's start_payment.sql matched no row for a booking the model would charge: its showtime's state.
-- $1 region, $2 showtime id. Returns 0 or 1 row: status, start_time, now.
SELECT status, start_time, now() AS now FROM showtimes WHERE region = $1 AND id = $2

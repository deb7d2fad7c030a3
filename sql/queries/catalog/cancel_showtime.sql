-- Cancels showtime $2 (region $1): it takes no new holds (the booking side checks the status inside its hold
-- transaction). Existing bookings are left to their owners and the refund flow.
-- Rows: none.
UPDATE showtimes SET status = 'canceled' WHERE region = $1 AND id = $2

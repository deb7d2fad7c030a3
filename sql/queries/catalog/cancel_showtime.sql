-- Cancels showtime $2 (region $1): it takes no new holds (the booking side checks the status inside its hold
-- transaction). Its bookings are canceled by the booking side (cancellation/start.sql records the work, in this
-- transaction; booking::service::showtime_cancel does it).
-- Rows: none.
UPDATE showtimes SET status = 'canceled' WHERE region = $1 AND id = $2

-- The next paid bookings of canceled showtime $2 (region $1) to refund, with their successful charge (a paid
-- booking has exactly one). Read outside a transaction: the refunds happen before the batch's transaction
-- (refunded.sql), which checks every row again.
-- $1 region, $2 showtime id, $3 batch size (INT8).
-- Returns rows: booking_id, attempt (INT4), provider_ref, amount (INT8).
SELECT DISTINCT b.id AS booking_id, p.attempt, p.provider_ref, p.amount
FROM showtimes s
JOIN booking_seats bs ON bs.region = s.region AND bs.showtime_id = s.id
JOIN bookings b ON b.region = bs.region AND b.id = bs.booking_id
JOIN payments p ON p.region = b.region AND p.booking_id = b.id AND p.status = 'succeeded'
WHERE s.region = $1 AND s.id = $2 AND s.status = 'canceled' AND b.status = 'paid'
ORDER BY b.id
LIMIT $3

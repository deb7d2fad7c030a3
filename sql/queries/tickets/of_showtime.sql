-- A showtime's tickets for an offline scanner (GET /showtimes/{id}/tickets): every ticket of a booking still paid,
-- with its admission so far, in key order.
-- $1 region, $2 showtime id.
-- Returns one row per ticket: booking_id, seat_label, admitted_at, admitted_by, admitted_door.
SELECT t.booking_id, t.seat_label, t.admitted_at, t.admitted_by, t.admitted_door
FROM tickets AS t
JOIN bookings AS b ON b.region = t.region AND b.id = t.booking_id
WHERE t.region = $1 AND t.showtime_id = $2 AND b.status = 'paid'
ORDER BY t.booking_id, t.seat_label

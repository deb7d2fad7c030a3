-- What the door needs to decide on a ticket (inside the check-in transaction): its admission so far, its booking's
-- status, its showtime's theater and times.
-- $1 region, $2 booking id, $3 seat label, $4 showtime id (the token's: a ticket of another showtime is no ticket).
-- Returns 0 or 1 row: admitted_at, admitted_by, admitted_door, booking_status, theater_id, start_time, end_time,
-- showtime_status, now.
SELECT t.admitted_at, t.admitted_by, t.admitted_door, b.status AS booking_status, s.theater_id, s.start_time,
       s.end_time, s.status AS showtime_status, now() AS now
FROM tickets AS t
JOIN bookings AS b ON b.region = t.region AND b.id = t.booking_id
JOIN showtimes AS s ON s.region = t.region AND s.id = t.showtime_id
WHERE t.region = $1 AND t.booking_id = $2 AND t.seat_label = $3 AND t.showtime_id = $4

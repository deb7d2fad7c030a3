-- A booking's tickets with their admission, seat order (GET /bookings/{id}/tickets; the caller checked the owner).
-- $1 region, $2 booking id.
-- Returns one row per ticket: seat_label, showtime_id, admitted_at, admitted_by, admitted_door.
SELECT seat_label, showtime_id, admitted_at, admitted_by, admitted_door
FROM tickets
WHERE region = $1 AND booking_id = $2
ORDER BY seat_label

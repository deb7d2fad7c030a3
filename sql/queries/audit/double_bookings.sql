-- Audit of invariant I1 (a seat has at most one live claim), run by the worker and exported as the gauge
-- boxoffice_audit_double_bookings; any value above 0 pages (alert BoxofficeDoubleBooking). With the primary key of
-- booking_seats it must always be 0: this checks the guard from the bookings' side, which nothing else enforces.
-- A booking is live when paid, or reserved / payment_pending with its hold not yet expired. Its seats are the
-- labels in bookings.seats ([{"label": "F12", ...}]).
-- $1 TIMESTAMPTZ: only bookings created at or after this instant are audited (bounds the work; a sale is audited
--    many times while its showtime is upcoming).
-- Returns one row:
--   duplicate_seats  INT8: (region, showtime_id, seat_label) listed by two or more live bookings;
--   foreign_claims   INT8: seats of a live booking whose claim row in booking_seats belongs to another booking.
WITH live_seats AS (
    SELECT b.region, b.showtime_id, b.id AS booking_id, seat.value ->> 'label' AS seat_label
    FROM bookings AS b, jsonb_array_elements(b.seats) AS seat
    WHERE b.created_at >= $1
      AND (b.status = 'paid' OR (b.status IN ('reserved', 'payment_pending') AND b.hold_expires_at > now()))
)
SELECT
    (SELECT count(*) FROM (
        SELECT 1 FROM live_seats
        GROUP BY region, showtime_id, seat_label
        HAVING count(DISTINCT booking_id) > 1
    ) AS duplicated) AS duplicate_seats,
    (SELECT count(*)
     FROM live_seats AS l
     JOIN booking_seats AS c
       ON c.region = l.region AND c.showtime_id = l.showtime_id AND c.seat_label = l.seat_label
     WHERE c.booking_id <> l.booking_id) AS foreign_claims

-- loadtest/invariants.sql — DESIGN.md §7's invariants, checked in the database after the load runs (run.sh). One row
-- per check: `name|violations|what it means`; the run fails when any count is not 0. Table load_acks (id, seats)
-- holds every booking the generators saw acknowledged (a 201): its id and its seats, comma-separated.
-- Every check can fail: tests/api/invariants.rs plants each violation in a test database and sees it reported. (Two
-- claims on one seat is not among them: booking_seats' primary key forbids it, so a count of them could never be
-- anything but 0; a seat in the seat lists of two live bookings is what the key does not guard.)
WITH acks AS (
    SELECT id, ARRAY(SELECT unnest(string_to_array(seats, ',')) ORDER BY 1) AS seats FROM load_acks
), claimed AS (
    SELECT booking_id, array_agg(seat_label ORDER BY seat_label) AS seats, count(*) AS n,
           count(*) FILTER (WHERE hold_expires_at IS NULL) AS held_for_good
    FROM booking_seats GROUP BY booking_id
), live AS (
    SELECT b.id, b.showtime_id, b.status, b.seat_count, b.seats
    FROM bookings b
    WHERE b.status IN ('payment_pending', 'paid') OR (b.status = 'reserved' AND b.hold_expires_at > now())
)
SELECT 'seat_in_two_live_bookings', count(*), 'a seat listed by two live bookings of one showtime (sold twice)'
FROM (SELECT 1 FROM live l CROSS JOIN jsonb_array_elements(l.seats) AS s
      GROUP BY l.showtime_id, s ->> 'label' HAVING count(*) > 1) d
UNION ALL
SELECT 'claim_on_another_showtime', count(*), 'a claim on a showtime other than its booking''s'
FROM booking_seats s JOIN bookings b ON b.region = s.region AND b.id = s.booking_id
WHERE s.showtime_id <> b.showtime_id
UNION ALL
SELECT 'acknowledged_booking_missing', count(*), 'a 201 whose booking is not in the database'
FROM acks a WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.id = a.id)
UNION ALL
SELECT 'acknowledged_booking_not_live', count(*), 'a 201 whose booking is no longer held, being paid or paid'
FROM acks a WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.id = a.id) AND NOT EXISTS (SELECT 1 FROM live l WHERE l.id = a.id)
UNION ALL
SELECT 'acknowledged_seats_not_claimed', count(*), 'a 201 whose seats are not exactly its booking''s claims'
FROM acks a LEFT JOIN claimed c ON c.booking_id = a.id WHERE c.seats IS DISTINCT FROM a.seats
UNION ALL
SELECT 'paid_seats_not_claimed', count(*), 'a paid booking without a claim for good on each of its seats'
FROM bookings b LEFT JOIN claimed c ON c.booking_id = b.id
WHERE b.status = 'paid' AND COALESCE(c.held_for_good, 0) <> b.seat_count
UNION ALL
SELECT 'seat_count_mismatch', count(*), 'a live booking whose seat_count, seats and claims disagree'
FROM live l LEFT JOIN claimed c ON c.booking_id = l.id
WHERE COALESCE(c.n, 0) <> l.seat_count OR jsonb_array_length(l.seats) <> l.seat_count
   OR c.seats IS DISTINCT FROM ARRAY(SELECT s ->> 'label' FROM jsonb_array_elements(l.seats) s ORDER BY 1)
UNION ALL
SELECT 'claim_of_ended_booking', count(*), 'a live claim whose booking was canceled or expired'
FROM booking_seats s JOIN bookings b ON b.id = s.booking_id
WHERE b.status IN ('canceled', 'expired') AND (s.hold_expires_at IS NULL OR s.hold_expires_at > now());

-- The bounded sweeper (DESIGN.md §6 "Expiry"; src/booking/sweep.rs): up to $1 reserved bookings past their hold
-- become expired and their claims are deleted, in one statement. It replaced booking/sweep_expired.sql, to keep
-- pace with an on-sale's leftovers (issue 23): that statement joined the claims to the expired bookings through a
-- CTE whose size the planner cannot see, and counted each booking's released seats with a subquery over all of them
-- (quadratic in the batch); this one reaches the claims by booking_seats_booking_idx and answers one row in total.
-- SKIP LOCKED lets several workers sweep side by side and never makes a hold wait; claims taken over by newer holds
-- point to those holds and are not touched.
-- $1 batch size (INT8). Returns one row: expired (INT8, bookings expired), showtimes (UUID[], those whose claims
-- were released: their seat caches are invalidated after the commit).
WITH due AS (
    SELECT region, id
    FROM bookings
    WHERE status = 'reserved' AND hold_expires_at < now()
    ORDER BY hold_expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), expired AS (
    UPDATE bookings b
    SET status = 'expired', updated_at = now()
    FROM due
    WHERE b.region = due.region AND b.id = due.id AND b.status = 'reserved'
    RETURNING b.region, b.id
), leftover AS (
    -- Claims a hold is taking over right now are skipped, not waited for (a sweep must not hold up a buyer): that
    -- hold will expire this booking itself (expire_taken_over.sql), and a skipped claim is lapsed, so it blocks
    -- nothing (I4).
    SELECT bs.region, bs.showtime_id, bs.seat_label
    FROM expired e
    JOIN booking_seats bs ON bs.region = e.region AND bs.booking_id = e.id
    FOR UPDATE OF bs SKIP LOCKED
), released AS (
    DELETE FROM booking_seats bs
    USING leftover l
    WHERE bs.region = l.region AND bs.showtime_id = l.showtime_id AND bs.seat_label = l.seat_label
    RETURNING bs.showtime_id
)
SELECT (SELECT count(*) FROM expired)::INT8 AS expired,
       ARRAY(SELECT DISTINCT showtime_id FROM released) AS showtimes

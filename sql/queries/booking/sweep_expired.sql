-- The sweeper (DESIGN.md §6 "Expiry"): up to $1 reserved bookings past their hold become expired and their claims
-- are deleted, in one statement. SKIP LOCKED lets several workers sweep side by side; claims taken over by newer
-- holds point to those holds and are not touched.
-- $1 batch size (INT8). Returns one row per expired booking: region, id, showtime_id, released (seats deleted).
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
    RETURNING b.region, b.id, b.showtime_id
), leftover AS (
    -- Claims a hold is taking over right now are skipped, not waited for: that hold locked them first and will lock
    -- this booking next (expire_taken_over.sql), so waiting would deadlock. A skipped claim is lapsed: it blocks
    -- nothing (I4), and the hold replaces it.
    SELECT bs.region, bs.showtime_id, bs.seat_label, bs.booking_id
    FROM booking_seats bs
    JOIN expired e ON bs.region = e.region AND bs.booking_id = e.id
    FOR UPDATE OF bs SKIP LOCKED
), released AS (
    DELETE FROM booking_seats bs
    USING leftover l
    WHERE bs.region = l.region AND bs.showtime_id = l.showtime_id AND bs.seat_label = l.seat_label
    RETURNING bs.booking_id
)
SELECT e.region, e.id, e.showtime_id, (SELECT COUNT(*) FROM released r WHERE r.booking_id = e.id) AS released
FROM expired e

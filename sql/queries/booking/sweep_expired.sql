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
), released AS (
    DELETE FROM booking_seats bs
    USING expired e
    WHERE bs.region = e.region AND bs.booking_id = e.id
    RETURNING bs.booking_id
)
SELECT e.region, e.id, e.showtime_id, (SELECT COUNT(*) FROM released r WHERE r.booking_id = e.id) AS released
FROM expired e
